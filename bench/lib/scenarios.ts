import type { JsonValue } from "@bufbuild/protobuf";
import { defaultPasswordHashParams, threadpoolSize } from "../../src/auth/passwords.js";
import type { HttpLoadSpec } from "../workers/http-load.js";
import type { RpcLoadSpec } from "../workers/rpc-load.js";
import type { Argon2FloorSpec } from "../workers/argon2-floor.js";
import type { PgDirectSpec } from "../workers/pg-direct.js";
import type { FastifyBaselineSpec } from "../fastify/server.js";
import { startServerChild, tsxArgs, type ServerChild } from "./child-process.js";
import { benchTable, createBenchAuthenticator, queryRolesExist, type BenchRole } from "./database.js";
import { benchQueries, refreshTokensOf, type BenchQuery, type BenchUser } from "./fixtures.js";
import { measure, type Measurement, type Watched } from "./measure.js";
import type { BenchOptions } from "./options.js";
import { repoRoot, workerScript } from "./paths.js";
import { budgetRow, ratioRow, skippedRow, type ResultRow } from "./results.js";
import { specVariable } from "./worker-protocol.js";
import { join } from "node:path";

/** The server's settings the baselines must mirror (the bench leaves them at their defaults). */
export const serviceDefaults = {
  statementTimeoutMs: 5_000,
  rowCap: 10_000,
  refreshGraceSeconds: 10,
  refreshTokenExpirySeconds: 604_800,
  /** Both the query pool and the ORM pool. */
  poolSize: 10,
} as const;

/** Scenario 6: the latency probe's fixed rate and connections (light traffic next to the flood). */
export const probe = { rate: 200, connections: 8 } as const;

/** Everything the scenarios share. */
export interface SuiteContext {
  options: BenchOptions;
  service: ServerChild;
  /** URL of the schema owner of the service's database (superuser in embedded mode). */
  ownerUrl: string;
  jwtSecret: string;
  postmasterPid: number | undefined;
  user: BenchUser;
  /** Whether POST /api/v1/query works, and why not. */
  queryState: { ok: true } | { ok: false; reason: string };
  /** Started on first use; stopped by the caller. */
  fastify?: ServerChild;
  /** Created on first use; dropped by the caller. */
  benchRole?: BenchRole;
}

const httpLoad = workerScript("http-load.ts");
const rpcLoad = workerScript("rpc-load.ts");

function watchService(ctx: SuiteContext): Watched {
  return { serverPid: ctx.service.pid, ...(ctx.postmasterPid === undefined ? {} : { postmasterPid: ctx.postmasterPid }) };
}

function timing(ctx: SuiteContext) {
  return { warmupSeconds: ctx.options.warmupSeconds, durationSeconds: ctx.options.durationSeconds };
}

function httpSpec(ctx: SuiteContext, base: string, request: Pick<HttpLoadSpec, "method" | "path"> & Partial<HttpLoadSpec>): HttpLoadSpec {
  return {
    url: base,
    headers: { "content-type": "application/json" },
    connections: ctx.options.connections,
    ...timing(ctx),
    ...request,
  };
}

const bearer = (ctx: SuiteContext) => ({ "content-type": "application/json", authorization: `Bearer ${ctx.user.accessToken}` });

function signInSpec(ctx: SuiteContext): HttpLoadSpec {
  return httpSpec(ctx, ctx.service.url, {
    method: "POST",
    path: "/auth/v1/token",
    body: JSON.stringify({ email: ctx.user.email, password: ctx.user.password }),
  });
}

/** 1: sign-in against the argon2 floor (same parameters, as many at once as the threadpool runs). */
export async function scenario1(ctx: SuiteContext): Promise<ResultRow[]> {
  const threads = threadpoolSize();
  const floorSpec: Argon2FloorSpec = { ...defaultPasswordHashParams, concurrency: threads, ...timing(ctx) };
  const runs = await inTurn(ctx, {
    signIn: () => measure("POST /auth/v1/token", httpLoad, signInSpec(ctx), watchService(ctx)),
    floor: () => measure(`argon2id verify ×${threads}`, workerScript("argon2-floor.ts"), floorSpec, {}),
  });
  return [comparisonRow("1 sign-in", runs.signIn, runs.floor, 0.9)];
}

/** 2: refresh-token rotation against its database round trips issued directly. */
export async function scenario2(ctx: SuiteContext): Promise<ResultRow[]> {
  const directSpec: PgDirectSpec = {
    mode: "refresh",
    databaseUrl: ctx.ownerUrl,
    userId: ctx.user.id,
    graceSeconds: serviceDefaults.refreshGraceSeconds,
    expirySeconds: serviceDefaults.refreshTokenExpirySeconds,
    poolSize: serviceDefaults.poolSize,
    concurrency: ctx.options.connections,
    ...timing(ctx),
  };
  const runs = await inTurn(ctx, {
    refresh: async () => {
      // Each connection holds one chain; tokens in flight when a run stops are lost, hence the spare.
      // A round rotates its tokens, so each round signs in for its own.
      const tokens = await refreshTokensOf(ctx.service.url, ctx.user, ctx.options.connections * 3);
      return measure(
        "POST /auth/v1/token?grant_type=refresh_token",
        httpLoad,
        httpSpec(ctx, ctx.service.url, { method: "POST", path: "/auth/v1/token?grant_type=refresh_token", refreshTokens: tokens }),
        watchService(ctx),
      );
    },
    direct: () =>
      measure("pg: same 6 round trips", workerScript("pg-direct.ts"), directSpec, {
        ...(ctx.postmasterPid === undefined ? {} : { postmasterPid: ctx.postmasterPid }),
      }),
  });
  return [comparisonRow("2 refresh", runs.refresh, runs.direct, undefined)];
}

/** 3: GET /auth/v1/user against GET /health on the same server (the cost of authentication). */
export async function scenario3(ctx: SuiteContext): Promise<ResultRow[]> {
  const runs = await inTurn(ctx, {
    user: () => measure("GET /auth/v1/user", httpLoad, httpSpec(ctx, ctx.service.url, { method: "GET", path: "/auth/v1/user", headers: bearer(ctx) }), watchService(ctx)),
    health: () => measure("GET /health", httpLoad, httpSpec(ctx, ctx.service.url, { method: "GET", path: "/health" }), watchService(ctx)),
  });
  return [comparisonRow("3 GET /auth/v1/user", runs.user, runs.health, 0.8)];
}

async function fastifyOf(ctx: SuiteContext): Promise<ServerChild> {
  if (!ctx.fastify) {
    const spec: FastifyBaselineSpec = { databaseUrl: ctx.ownerUrl, jwtSecret: ctx.jwtSecret, poolSize: serviceDefaults.poolSize };
    ctx.fastify = await startServerChild({
      args: tsxArgs(join(repoRoot, "bench", "fastify", "server.ts")),
      env: { ...process.env, [specVariable]: JSON.stringify(spec) },
      urlOf: (line) => (line.includes('"ready"') ? (JSON.parse(line) as { url: string }).url : undefined),
      timeoutMs: 30_000,
    });
  }
  return ctx.fastify;
}

/** The Fastify baseline answering `q` over `POST /api/v1/query`. */
async function fastifyQuery(ctx: SuiteContext, q: BenchQuery): Promise<Measurement> {
  const server = await fastifyOf(ctx);
  return measure(
    "Fastify+jwt+pg",
    httpLoad,
    httpSpec(ctx, server.url, { method: "POST", path: "/api/v1/query", headers: bearer(ctx), body: queryBody(q) }),
    { serverPid: server.pid, ...(ctx.postmasterPid === undefined ? {} : { postmasterPid: ctx.postmasterPid }) },
  );
}

function queryBody(q: BenchQuery): string {
  return JSON.stringify({ sql: q.sql, params: q.params });
}

async function directRls(ctx: SuiteContext, q: BenchQuery): Promise<Measurement | string> {
  if (!(await queryRolesExist(ctx.ownerUrl))) return "the query roles (helios_user) do not exist yet";
  ctx.benchRole ??= await createBenchAuthenticator(ctx.ownerUrl);
  const spec: PgDirectSpec = {
    mode: "rls",
    databaseUrl: ctx.benchRole.url,
    tenantId: ctx.user.tenantId,
    scopes: ["read", "write"],
    sql: q.sql,
    params: [...q.params],
    expectRows: q.rows,
    statementTimeoutMs: serviceDefaults.statementTimeoutMs,
    rowCap: serviceDefaults.rowCap,
    poolSize: serviceDefaults.poolSize,
    concurrency: ctx.options.connections,
    ...timing(ctx),
  };
  return measure("pg: same RLS txn", workerScript("pg-direct.ts"), spec, {
    ...(ctx.postmasterPid === undefined ? {} : { postmasterPid: ctx.postmasterPid }),
  });
}

async function rpc(ctx: SuiteContext, protocol: RpcLoadSpec["protocol"], q: BenchQuery): Promise<Measurement> {
  const spec: RpcLoadSpec = {
    url: ctx.service.url,
    protocol,
    json: protocol === "connect",
    accessToken: ctx.user.accessToken,
    sql: q.sql,
    params: [...q.params] as JsonValue[],
    expectRows: q.rows,
    client: ctx.options.h2Client,
    concurrency: ctx.options.connections,
    ...timing(ctx),
  };
  const label = `${protocol === "grpc" ? "gRPC h2c" : "Connect h2c JSON"}${ctx.options.h2Client === "raw-h2" ? " (raw client)" : ""}`;
  return measure(label, rpcLoad, spec, watchService(ctx));
}

/** What one run of a comparison gave: its measurement, or why it failed. */
type Run = Measurement | string;

async function settle(work: () => Promise<Run>): Promise<Run> {
  try {
    return await work();
  } catch (error) {
    return error instanceof Error ? error.message.split("\n")[0] ?? error.message : String(error);
  }
}

/**
 * Runs every entry of `runs` once per round, in turn, for `--rounds` rounds (A B C, A B C, …): a
 * drift of the machine's speed then falls on all of them alike, and each round compares runs made
 * side by side. Resolves each entry's runs in round order.
 */
async function inTurn<K extends string>(ctx: SuiteContext, runs: Record<K, () => Promise<Run>>): Promise<Record<K, Run[]>> {
  const keys = Object.keys(runs) as K[];
  const results = Object.fromEntries(keys.map((key) => [key, [] as Run[]])) as Record<K, Run[]>;
  for (let round = 0; round < ctx.options.rounds; round++) {
    for (const key of keys) results[key].push(await settle(runs[key]));
  }
  return results;
}

/**
 * A ratio row of `measured` to `baseline`, run in the same rounds (see {@link inTurn}): the round of
 * the median ratio, with every round's ratio; or a skipped row saying which of them failed and why.
 */
function comparisonRow(name: string, measured: readonly Run[], baseline: readonly Run[], min: number | undefined): ResultRow {
  const target = min === undefined ? undefined : ({ kind: "min-ratio", value: min } as const);
  const succeeded = (runs: readonly Run[]) => runs.filter((run): run is Measurement => typeof run !== "string");
  const measuredFailure = measured.find((run) => typeof run === "string");
  if (measuredFailure !== undefined) return skippedRow(name, measuredFailure, target, succeeded(baseline)[0]);
  const baselineFailure = baseline.find((run) => typeof run === "string");
  if (baselineFailure !== undefined) return skippedRow(name, `baseline: ${baselineFailure}`, target);
  const rounds = succeeded(measured).map((m, round) => ratioRow(name, m, succeeded(baseline)[round] as Measurement, min));
  const median = [...rounds].sort((a, b) => (a.ratio ?? 0) - (b.ratio ?? 0))[Math.floor((rounds.length - 1) / 2)] as ResultRow;
  return rounds.length > 1 ? { ...median, roundRatios: rounds.map((row) => row.ratio ?? 0) } : median;
}

/**
 * 4 and 5: one statement over REST, Connect and gRPC against the same RLS transaction issued
 * directly with pg, and against the Fastify baseline. Issue 15's targets: for 1 row REST ≥ 0.6× pg
 * and ≥ 1.0× Fastify, Connect ≥ 0.8× and gRPC ≥ 0.7× REST; for 1 000 rows REST ≥ 0.8× Fastify.
 */
async function queryScenario(ctx: SuiteContext, id: "4" | "5", q: BenchQuery): Promise<ResultRow[]> {
  const what = id === "4" ? "1-row" : "1000-row";
  const oneRow = id === "4";
  const target = (value: number) => (oneRow ? value : undefined);
  const h2 = ctx.options.h2Client === "raw-h2" ? " (raw h2)" : "";
  const rows: ResultRow[] = [];
  const compare = (name: string, measured: readonly Run[], baseline: readonly Run[], min: number | undefined) =>
    rows.push(comparisonRow(name, measured, baseline, min));
  const baselines = { direct: () => directRls(ctx, q), fastify: () => fastifyQuery(ctx, q) };
  if (!ctx.queryState.ok) {
    const reason = [ctx.queryState.reason];
    const { direct, fastify } = await inTurn(ctx, baselines);
    compare(`${id} ${what} REST vs pg`, reason, direct, target(0.6));
    compare(`${id} ${what} REST vs Fastify`, reason, fastify, oneRow ? 1.0 : 0.8);
    compare(`${id} ${what} Connect${h2} vs REST`, reason, reason, target(0.8));
    compare(`${id} ${what} gRPC${h2} vs REST`, reason, reason, target(0.7));
    return rows;
  }
  const runs = await inTurn(ctx, {
    ...baselines,
    rest: () =>
      measure("REST", httpLoad, httpSpec(ctx, ctx.service.url, { method: "POST", path: "/api/v1/query", headers: bearer(ctx), body: queryBody(q) }), watchService(ctx)),
    connect: () => rpc(ctx, "connect", q),
    grpc: () => rpc(ctx, "grpc", q),
  });
  compare(`${id} ${what} REST vs pg`, runs.rest, runs.direct, target(0.6));
  compare(`${id} ${what} REST vs Fastify`, runs.rest, runs.fastify, oneRow ? 1.0 : 0.8);
  compare(`${id} ${what} Connect${h2} vs REST`, runs.connect, runs.rest, target(0.8));
  compare(`${id} ${what} gRPC${h2} vs REST`, runs.grpc, runs.rest, target(0.7));
  return rows;
}

/** 4: one-row indexed SELECT under tenant RLS. */
export const scenario4 = (ctx: SuiteContext) => queryScenario(ctx, "4", benchQueries.oneRow);

/** 5: 1 000-row SELECT (result encoding). */
export const scenario5 = (ctx: SuiteContext) => queryScenario(ctx, "5", benchQueries.thousandRows);

/**
 * 6: p99 of light fixed-rate probes while sign-ins flood the server, each against the same probe
 * without the flood: the scenario-4 REST query (issue 7's target) and `GET /auth/v1/user` (the
 * authentication path alone, which issue 3 asks about).
 */
export async function scenario6(ctx: SuiteContext): Promise<ResultRow[]> {
  const target = { kind: "max-ms", value: 50 } as const;
  const queryName = "6 1-row REST p99 under sign-in flood";
  const rows: ResultRow[] = [];
  if (ctx.queryState.ok) {
    rows.push(await underSignInFlood(ctx, queryName, target, { method: "POST", path: "/api/v1/query", body: queryBody(benchQueries.oneRow) }));
  } else {
    rows.push(skippedRow(queryName, ctx.queryState.reason, target));
  }
  rows.push(await underSignInFlood(ctx, "6 GET /auth/v1/user p99 under sign-in flood", target, { method: "GET", path: "/auth/v1/user" }));
  return rows;
}

async function underSignInFlood(
  ctx: SuiteContext,
  name: string,
  target: { kind: "max-ms"; value: number },
  request: Pick<HttpLoadSpec, "method" | "path"> & Partial<HttpLoadSpec>,
): Promise<ResultRow> {
  const probeSpec = httpSpec(ctx, ctx.service.url, {
    ...request,
    headers: bearer(ctx),
    connections: probe.connections,
    overallRate: probe.rate,
  });
  const alone = await measure(`probe ${probe.rate}/s alone`, httpLoad, probeSpec, watchService(ctx));
  const { warmupSeconds, durationSeconds } = ctx.options;
  // The flood starts first and ends after the probe.
  const floodSpec: HttpLoadSpec = { ...signInSpec(ctx), warmupSeconds: 0, durationSeconds: 2 * warmupSeconds + durationSeconds + 2 };
  const flood = measure("sign-in flood", httpLoad, floodSpec, {});
  await new Promise((resolve) => setTimeout(resolve, (warmupSeconds + 0.5) * 1000));
  const flooded = await measure(`probe ${probe.rate}/s + flood`, httpLoad, probeSpec, watchService(ctx));
  const floodResult = await flood;
  const row = budgetRow(name, { amount: flooded.load.p99Ms, unit: "ms" }, target, { measured: flooded, baseline: alone });
  const floodNote = `flood: ${Math.round(floodResult.load.rps)} sign-ins/s, p99 ${Math.round(floodResult.load.p99Ms)} ms`;
  return { ...row, note: row.note ? `${row.note}; ${floodNote}` : floodNote };
}

/**
 * 8: `/rest/v1` as supabase-js calls it, a one-row `GET ?id=eq.N` and a 100-row page, each against
 * the same SQL over `POST /api/v1/query` (target for one row: ≥ 0.9×) and over the Fastify baseline.
 */
export async function scenario8(ctx: SuiteContext): Promise<ResultRow[]> {
  const columns = "select=id,tenant_id,payload";
  const cases = [
    { what: "1-row", path: `/rest/v1/${benchTable.name}?${columns}&id=eq.${benchQueries.oneRow.params[0]}`, q: benchQueries.oneRow, min: 0.9 },
    { what: "100-row", path: `/rest/v1/${benchTable.name}?${columns}&id=gte.${benchQueries.hundredRows.params[0]}&order=id&limit=100`, q: benchQueries.hundredRows, min: undefined },
  ];
  const rows: ResultRow[] = [];
  for (const { what, path, q, min } of cases) {
    const name = `8 ${what} /rest`;
    if (!ctx.queryState.ok) {
      rows.push(comparisonRow(`${name} vs /api/v1/query`, [ctx.queryState.reason], [], min));
      continue;
    }
    const runs = await inTurn(ctx, {
      rest: () => measure("GET /rest/v1", httpLoad, httpSpec(ctx, ctx.service.url, { method: "GET", path, headers: bearer(ctx) }), watchService(ctx)),
      query: () =>
        measure("POST /api/v1/query", httpLoad, httpSpec(ctx, ctx.service.url, { method: "POST", path: "/api/v1/query", headers: bearer(ctx), body: queryBody(q) }), watchService(ctx)),
      fastify: () => fastifyQuery(ctx, q),
    });
    rows.push(comparisonRow(`${name} vs /api/v1/query`, runs.rest, runs.query, min));
    rows.push(comparisonRow(`${name} vs Fastify`, runs.rest, runs.fastify, undefined));
  }
  return rows;
}
