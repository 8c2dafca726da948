import pg from "pg";
import type { ConnectError } from "@connectrpc/connect";
import { apiError, reasonOf } from "../errors/catalogue.js";
import type { Principal } from "../auth/principal.js";
import type { QueryConfig } from "../config/config.js";
import type { Logger } from "../logging/logger.js";
import type { PoolStats } from "../server/metrics.js";
import { createConcurrencyLimiter } from "./concurrency-limiter.js";
import { mapDatabaseError } from "./database-errors.js";
import { encodeParams } from "./param-encoding.js";
import { requestSetup, resolveAccess, type RequestAccess } from "./request-setup.js";
import { decodeRows, parseCommandTag, type JsonValue, type QueryResult } from "./result-encoding.js";
import { authorizeStatement, createSqlGuard, type SqlGuard, type StatementClass } from "./sql-guard.js";
import { runPipeline, type PipelineOutcome } from "./statement-pipeline.js";
import { afterAdminDdl } from "./tenancy.js";
import { collectTenancyNotices } from "./tenancy-notices.js";
import { createTypeRegistry, type TypeRegistry, type TypeRow } from "./type-registry.js";

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

async function toResult(
  outcome: PipelineOutcome,
  statement: StatementClass,
  types: TypeRegistry,
  arrayMode: boolean,
): Promise<QueryResult> {
  const resolved = await types.resolve(outcome.fields.map((field) => field.dataTypeID));
  const columns = outcome.fields.map((field, index) => ({ name: field.name, type: resolved[index]?.name ?? "unknown" }));
  const rows = decodeRows(outcome.rows, columns, resolved.map((type) => type.decode), arrayMode);
  const tag = outcome.commandTag === undefined ? undefined : parseCommandTag(outcome.commandTag);
  const command = tag?.command ?? statement.command;
  const affected = countedCommands.has(command) || columns.length === 0 ? tag?.count : undefined;
  return { columns, rows, row_count: affected ?? rows.length, command, truncated: outcome.suspended };
}

/**
 * Creates the query executor: a `pg.Pool` logged in as `helios_authenticator`, and per statement
 * one implicit transaction sent in one round trip (see `statement-pipeline.ts`): settings and claims,
 * `role` = helios_user or helios_admin, the statement over the extended protocol with at most
 * `rowCap` rows fetched, and after admin DDL a tenancy sync. Per-tenant concurrency is capped.
 */
export async function createQueryExecutor(options: QueryExecutorOptions): Promise<QueryExecutor> {
  const { config, logger } = options;
  const guard = options.guard ?? (await createSqlGuard({ maxSqlBytes: config.maxSqlBytes }));
  const pool = new pg.Pool({
    connectionString: options.authenticatorUrl,
    max: options.poolSize ?? 10,
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
  const limiter = createConcurrencyLimiter(config.maxConcurrentPerTenant);
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
      const { stage, code, message } = mapped.internal;
      logger?.error({ stage, sqlstate: code, command: statement.command, error: message }, "query failed");
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
    const release = limiter.acquire(`tenant:${principal.tenantId}`);
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
          after: statements.some((s) => s.class.kind === "ddl") ? afterAdminDdl(config.strictTenancy === true) : undefined,
          deadlineMs,
        });
      } catch (error) {
        const mapped = fail(error, first.class);
        // After a lost connection or a client-side deadline the connection cannot be reused.
        const reason = reasonOf(mapped);
        broken = reason === "storage_unavailable" || reason === "internal_error";
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
      const { outcome, notices } = await runStatements(request.principal, access, [{ text: request.sql, values, class: statement }]);
      try {
        const result = await toResult(outcome, statement, types, request.arrayMode === true);
        return notices.length > 0 ? { ...result, notices } : result;
      } catch (error) {
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
