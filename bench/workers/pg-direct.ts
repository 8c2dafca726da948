/**
 * Database-only baselines, issued with `pg` from this one process:
 * - `rls`: what POST /api/v1/query sends for one statement — the executor's setup statement (claims,
 *   settings, role) and the user's statement in one implicit transaction, one round trip — logged in
 *   as an authenticator-like role (LOGIN, NOINHERIT, member of helios_user);
 * - `refresh`: the statements of one refresh-token rotation (see lib/refresh-round-trips.ts).
 * `node --import tsx bench/workers/pg-direct.ts` (spec: `PgDirectSpec` as JSON in BENCH_SPEC).
 */
import type { JsonValue } from "../../src/query/result-encoding.js";
import pg from "pg";
import { encodeParams } from "../../src/query/param-encoding.js";
import { requestSetup, resolveAccess } from "../../src/query/request-setup.js";
import { runPipeline } from "../../src/query/statement-pipeline.js";
import type { Scope } from "../../src/auth/principal.js";
import { runClosedLoop } from "../lib/closed-loop.js";
import { startRefreshChain } from "../lib/refresh-round-trips.js";
import { emit, readSpec, runWorkerMain } from "../lib/worker-protocol.js";

/** The RLS query baseline. */
export interface RlsSpec {
  mode: "rls";
  /** Logs in as the bench authenticator role. */
  databaseUrl: string;
  tenantId: string;
  scopes: Scope[];
  sql: string;
  params: JsonValue[];
  expectRows: number;
  /** The server's `--statement-timeout` (ms) and `--row-cap`. */
  statementTimeoutMs: number;
  rowCap: number;
}

/** The refresh baseline. */
export interface RefreshSpec {
  mode: "refresh";
  /** Logs in as the schema owner, as the service's ORM does. */
  databaseUrl: string;
  userId: string;
  graceSeconds: number;
  expirySeconds: number;
}

/** What to run, and how hard. */
export type PgDirectSpec = (RlsSpec | RefreshSpec) & {
  /** Pool size: the service's pools hold 10. */
  poolSize: number;
  concurrency: number;
  warmupSeconds: number;
  durationSeconds: number;
};

async function rlsCall(pool: pg.Pool, spec: RlsSpec): Promise<() => Promise<void>> {
  const access = resolveAccess({ kind: "api_key", id: "bench", role: "authenticated", tenantId: spec.tenantId, scopes: spec.scopes });
  const setup = requestSetup(access, spec.statementTimeoutMs);
  const statement = { text: spec.sql, values: encodeParams(spec.params) };
  return async () => {
    const client = await pool.connect();
    try {
      const outcome = await runPipeline(client, { setup, statement, maxRows: spec.rowCap });
      if (outcome.rows.length !== spec.expectRows) throw new Error(`expected ${spec.expectRows} rows, got ${outcome.rows.length}`);
    } finally {
      client.release();
    }
  };
}

async function main(): Promise<void> {
  const spec = readSpec<PgDirectSpec>();
  const pool = new pg.Pool({ connectionString: spec.databaseUrl, max: spec.poolSize, application_name: "heliosdb-bench" });
  pool.on("error", () => undefined);
  let call: (loop: number) => Promise<void>;
  if (spec.mode === "rls") {
    call = await rlsCall(pool, spec);
  } else {
    const chains = await Promise.all(
      Array.from({ length: spec.concurrency }, () =>
        startRefreshChain({ pool, userId: spec.userId, graceSeconds: spec.graceSeconds, expirySeconds: spec.expirySeconds }),
      ),
    );
    call = (loop) => chains[loop]?.refresh() ?? Promise.reject(new Error("no chain"));
  }
  const result = await runClosedLoop({
    concurrency: spec.concurrency,
    warmupSeconds: spec.warmupSeconds,
    durationSeconds: spec.durationSeconds,
    call,
  });
  await pool.end();
  emit({ type: "result", result });
}

runWorkerMain(main);
