import pg from "pg";
import { ConnectError } from "@connectrpc/connect";
import { apiError, reasonOf, type Reason } from "../errors/catalogue.js";
import type { Principal } from "../auth/principal.js";
import type { QueryConfig } from "../config/config.js";
import type { Logger } from "../logging/logger.js";
import type { PoolStats } from "../server/metrics.js";
import { createFairQueue } from "../util/fair-queue.js";
import { mapDatabaseError } from "./database-errors.js";
import { encodeParams } from "./param-encoding.js";
import { defaultPreparedStatementLimits, type PreparedStatementLimits } from "./prepared-statements.js";
import { requestSetup, resolveAccess, type RequestAccess } from "./request-setup.js";
import { decodeRows, parseCommandTag, type JsonValue, type QueryResult } from "./result-encoding.js";
import { authorizeStatement, checkParameterCount, createSqlGuard, type SqlGuard, type StatementClass } from "./sql-guard.js";
import { runPipeline, type PipelineOutcome } from "./statement-pipeline.js";
import { afterAdminDdl } from "./tenancy.js";
import { collectTenancyNotices } from "./tenancy-notices.js";
import { createTypeRegistry, type ResolvedType, type TypeRow } from "./type-registry.js";

/**
 * The reasons the executor answers for a statement (see sql-guard.ts, the queue below,
 * database-errors.ts, result-encoding.ts): what every API that ends in it can answer.
 */
export const executorReasons: readonly Reason[] = [
  "validation_failed",
  "sql_too_large",
  "sql_error",
  "statement_not_allowed",
  "insufficient_scope",
  "cross_tenant_forbidden",
  "parameter_count_mismatch",
  "query_timeout",
  "too_many_queries",
  "server_busy",
  "transaction_conflict",
  "result_too_large",
];

/** Options of {@link createQueryExecutor}. */
export interface QueryExecutorOptions {
  /** Connection string logging in as `helios_authenticator`. */
  authenticatorUrl: string;
  config: QueryConfig;
  logger?: Pick<Logger, "info" | "warn" | "error">;
  /** Connections in the query pool (default 10). */
  poolSize?: number;
  /** How long a query may wait for a free connection before `storage_unavailable` (default 10 s). */
  connectionTimeoutMs?: number;
  /** A guard to share; by default one is created from `config.maxSqlBytes`. */
  guard?: SqlGuard;
  /**
   * Keep repeated texts prepared per connection (default: on, with the default bounds); `false`
   * behind a transaction-mode pooler, whose next transaction may run on another server connection.
   */
  preparedStatements?: boolean | Readonly<PreparedStatementLimits>;
}

/** One statement to run for a principal. */
export interface QueryRequest {
  principal: Principal;
  sql: string;
  /** Values for `$1…$n`. */
  params?: readonly JsonValue[];
  /** Run read-only whatever the scopes (GET requests). */
  readOnly?: boolean;
  /** The `X-Tenant-ID` header: admins only (or the caller's own tenant). */
  tenantOverride?: string;
  /** Rows as arrays instead of objects. */
  arrayMode?: boolean;
}

/** Statements to run for a principal in one transaction: all of them, or none. */
export interface TransactionRequest {
  principal: Principal;
  /** Statements without parameters, in order; each passes the guard and the scope check. */
  statements: readonly string[];
  /** The `X-Tenant-ID` header: admins only (or the caller's own tenant). */
  tenantOverride?: string;
}

/** Runs SQL statements as principals, confined to their tenant. */
export interface QueryExecutor {
  /** Runs one statement; throws catalogue errors (ConnectError) for every refusal or failure. */
  execute(request: QueryRequest): Promise<QueryResult>;
  /**
   * Runs several statements in one transaction (one round trip, like {@link execute}): each is
   * classified by the guard and authorised for the principal before any runs, and a failure of
   * any rolls all of them back. Resolves, once they are committed, with the tenancy notices raised
   * (which kind each new table became, keys without `tenant_id`).
   */
  executeTransaction(request: TransactionRequest): Promise<string[]>;
  /** Connections of the query pool now, or undefined once it is closed. */
  poolStats(): PoolStats | undefined;
  /**
   * Calls `listener` after every DDL statement this executor commits (caches of the schema, such
   * as `/rest`'s catalogue, forget it at once); answers the function that stops calling it.
   */
  onSchemaChange(listener: () => void): () => void;
  /** Closes the connection pool. */
  close(): Promise<void>;
}

const countedCommands = new Set(["INSERT", "UPDATE", "DELETE", "MERGE"]);

function toResult(outcome: PipelineOutcome, resolved: readonly ResolvedType[], statement: StatementClass, arrayMode: boolean, rowCap: number): QueryResult {
  const columns = outcome.fields.map((field, index) => ({ name: field.name, type: resolved[index]?.name ?? "unknown" }));
  const rows = decodeRows(outcome.rows, columns, resolved.map((type) => type.decode), arrayMode);
  const tag = outcome.commandTag === undefined ? undefined : parseCommandTag(outcome.commandTag);
  const command = tag?.command ?? statement.command;
  const affected = countedCommands.has(command) || columns.length === 0 ? tag?.count : undefined;
  const result: QueryResult = { columns, rows, row_count: affected ?? rows.length, command, truncated: outcome.suspended };
  if (outcome.suspended) {
    result.notices = [`Only the first ${rowCap} rows are returned: the row cap (--row-cap). Page through the rest with LIMIT and OFFSET.`];
  }
  return result;
}

/**
 * Creates the query executor: a `pg.Pool` logged in as `helios_authenticator`, and per statement
 * one implicit transaction sent in one round trip (see `statement-pipeline.ts`): settings and claims,
 * `role` = helios_user or helios_admin, the statement over the extended protocol with at most
 * `rowCap` rows and `maxResultBytes` bytes fetched, and after admin DDL a tenancy sync. The pool's connections are shared
 * fairly between tenants (see `util/fair-queue.ts`): a query over its tenant's share waits, and is refused
 * only when its tenant's queue is full or the wait runs out.
 */
export async function createQueryExecutor(options: QueryExecutorOptions): Promise<QueryExecutor> {
  const { config, logger } = options;
  const guard = options.guard ?? (await createSqlGuard({ maxSqlBytes: config.maxSqlBytes }));
  const poolSize = options.poolSize ?? 10;
  const pool = new pg.Pool({
    connectionString: options.authenticatorUrl,
    max: poolSize,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 10_000,
    idleTimeoutMillis: 30_000,
    application_name: "heliosdb-nano/query",
  });
  pool.on("error", (error) => logger?.warn({ error: error.message }, "idle query connection failed"));
  // pg reports the death of a checked-out connection as an 'error' event when no query is active on
  // it (a FATAL arriving right after another message, as when the server restarts or terminates
  // sessions); unheard, that event ends the process. The failure surfaces through the next query, and
  // the pool drops a connection that is no longer queryable when it is released.
  const ignore = () => undefined;
  pool.on("acquire", (client) => client.on("error", ignore));
  pool.on("release", (_error, client) => client.off("error", ignore));
  const queueLength = config.queueLength ?? 200;
  const queueTimeoutMs = config.queueTimeoutMs ?? 10_000;
  const perTenant = Math.min(config.maxConcurrentPerTenant, poolSize);
  const retryAfter = { headers: { "Retry-After": "1" } };
  const slots = createFairQueue({
    capacity: poolSize,
    perKeyMax: perTenant,
    queueLength,
    timeoutMs: queueTimeoutMs,
    full: () =>
      apiError(
        "too_many_queries",
        `This tenant has ${perTenant} queries running and ${queueLength} waiting, the most allowed (--max-concurrent-queries, --query-queue-length)`,
        retryAfter,
      ),
    timedOut: () =>
      apiError("server_busy", `The query waited ${queueTimeoutMs / 1000} s for a connection (--query-queue-timeout)`, retryAfter),
  });
  const prepared =
    options.preparedStatements === false
      ? undefined
      : options.preparedStatements === true || options.preparedStatements === undefined
        ? defaultPreparedStatementLimits
        : options.preparedStatements;
  const types = createTypeRegistry(async (oids) => {
    const result = await pool.query<TypeRow>(
      `SELECT oid, typname, typtype, typcategory, typelem, typbasetype, typdelim
         FROM pg_catalog.pg_type WHERE oid = ANY($1::oid[])`,
      [oids],
    );
    return result.rows;
  });
  // Generous: statement_timeout cancels long statements server-side; this only catches a dead server.
  const deadlineMs = config.statementTimeoutMs + 10_000;
  const schemaListeners = new Set<() => void>();

  function fail(failure: unknown, statement: StatementClass): ConnectError {
    const mapped = mapDatabaseError(failure);
    if (mapped.internal) {
      const { stage, fields } = mapped.internal;
      logger?.error({ stage, command: statement.command, ...fields }, "query failed");
    }
    return mapped.error;
  }

  /**
   * Sends `statements` (already classified and authorised) in one pipeline as `access`, followed
   * by the admin DDL step when any is DDL; returns the raw outcome of the first and the tenancy
   * notices raised (also logged).
   */
  async function runStatements(
    principal: Principal,
    access: RequestAccess,
    statements: readonly { text: string; values: readonly (string | null)[]; class: StatementClass }[],
  ): Promise<{ outcome: PipelineOutcome; notices: string[] }> {
    const [first, ...more] = statements as [(typeof statements)[number], ...typeof statements];
    const release = slots.tryAcquire(principal.tenantId) ?? (await slots.acquire(principal.tenantId));
    try {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (error) {
        throw fail(error, first.class);
      }
      let outcome: PipelineOutcome;
      let broken = false;
      const notices = collectTenancyNotices(client);
      try {
        outcome = await runPipeline(client, {
          setup: requestSetup(access, config.statementTimeoutMs),
          statement: first,
          more,
          maxRows: config.rowCap,
          maxBytes: config.maxResultBytes,
          after: statements.some((s) => s.class.kind === "ddl") ? afterAdminDdl(config.strictTenancy === true) : undefined,
          deadlineMs,
          // DDL runs once: not worth a place among the connection's prepared statements.
          prepared: first.class.kind === "ddl" ? undefined : prepared,
        });
      } catch (error) {
        const mapped = fail(error, first.class);
        // After a lost connection, a client-side deadline or an answer cut short the connection cannot be reused.
        const reason = reasonOf(mapped);
        broken = reason === "storage_unavailable" || reason === "internal_error" || reason === "result_too_large";
        throw mapped;
      } finally {
        notices.stop();
        client.release(broken);
      }
      if (statements.some((s) => s.class.kind === "ddl")) for (const listener of schemaListeners) listener();
      const said = notices.messages();
      for (const notice of said) {
        logger?.[notice.warning ? "warn" : "info"]({ command: first.class.command, tenantId: access.tenantId }, notice.message);
      }
      return { outcome, notices: said.map((notice) => notice.message) };
    } finally {
      release();
    }
  }

  return {
    async execute(request) {
      const access = resolveAccess(request.principal, request);
      const statement = guard.classify(request.sql);
      authorizeStatement(statement, request.principal.scopes, { readOnly: access.readOnly });
      const values = encodeParams(request.params ?? []);
      checkParameterCount(statement, values.length);
      const { outcome, notices } = await runStatements(request.principal, access, [{ text: request.sql, values, class: statement }]);
      try {
        const oids = outcome.fields.map((field) => field.dataTypeID);
        const resolved = types.known(oids) ?? (await types.resolve(oids));
        const result = toResult(outcome, resolved, statement, request.arrayMode === true, config.rowCap);
        return notices.length > 0 ? { ...result, notices: [...(result.notices ?? []), ...notices] } : result;
      } catch (error) {
        // A result the caller may not have (result_too_large: nested too deep) is the caller's failure.
        if (error instanceof ConnectError) throw error;
        const message = error instanceof Error ? error.message : String(error);
        logger?.error({ command: statement.command, error: message }, "query result could not be encoded");
        throw apiError("internal_error");
      }
    },
    async executeTransaction(request) {
      if (request.statements.length === 0) throw apiError("validation_failed", "no statement to run");
      const access = resolveAccess(request.principal, request);
      const statements = request.statements.map((sql) => {
        const statement = guard.classify(sql);
        authorizeStatement(statement, request.principal.scopes, { readOnly: access.readOnly });
        return { text: sql, values: [], class: statement };
      });
      return (await runStatements(request.principal, access, statements)).notices;
    },
    onSchemaChange(listener) {
      schemaListeners.add(listener);
      return () => schemaListeners.delete(listener);
    },
    poolStats: () =>
      pool.ended ? undefined : { used: pool.totalCount - pool.idleCount, idle: pool.idleCount, pending: pool.waitingCount },
    close: () => pool.end(),
  };
}
