/**
 * `npm run bench`: the performance suite of issue 7. Starts the real server as a child process,
 * sets up data through its public API (and the bench table as the schema owner), runs every
 * scenario and its baseline from separate load processes over loopback, and prints one table;
 * writes JSON and an SVG chart into bench/results/. `npm run bench -- --help` lists the flags.
 */
import { availableParallelism, cpus, loadavg, totalmem } from "node:os";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { threadpoolSize } from "../src/auth/passwords.js";
import type { ServerChild } from "./lib/child-process.js";
import { formatProfile, summarizeProfile, type ProfileSummary } from "./lib/cpu-profile.js";
import { benchTableRls, createBenchTable, postmasterPidOf } from "./lib/database.js";
import { benchQueries, queryEndpointState, type BenchQuery, signUpBenchUser, verifyTenantIsolation } from "./lib/fixtures.js";
import { measure, type Measurement } from "./lib/measure.js";
import { parseBenchOptions, usage, UsageError, type BenchOptions, type ScenarioId } from "./lib/options.js";
import { resultsDir, workerScript } from "./lib/paths.js";
import { machineBusySeconds, memoryOf, type Memory } from "./lib/proc.js";
import { writeReport } from "./lib/report.js";
import { budgetRow, skippedRow, type ResultRow } from "./lib/results.js";
import { scenario1, scenario2, scenario3, scenario4, scenario5, scenario6, scenario8, type SuiteContext } from "./lib/scenarios.js";
import { benchServiceFlags, startService, type ServiceStorage } from "./lib/service.js";
import { prepareStorage } from "./lib/storage.js";
import { formatTable } from "./lib/table.js";

const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

const scenarios: Array<[ScenarioId, (ctx: SuiteContext) => Promise<ResultRow[]>]> = [
  ["1", scenario1],
  ["2", scenario2],
  ["3", scenario3],
  ["4", scenario4],
  ["5", scenario5],
  ["6", scenario6],
  ["8", scenario8],
];

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Scenario 7: idle RSS (target ≤ 150 MB), RSS after the load, and the peak (VmHWM). */
function memoryRows(idle: Memory, after: Memory, later: Memory): ResultRow[] {
  return [
    budgetRow("7 idle RSS (service process)", { amount: idle.rssMb, unit: "MB" }, { kind: "max-mb", value: 150 }),
    budgetRow("7 RSS after the load", { amount: after.rssMb, unit: "MB" }, undefined),
    budgetRow(`7 RSS ${memorySettleSeconds} s after the load`, { amount: later.rssMb, unit: "MB" }, undefined),
    budgetRow("7 peak RSS (VmHWM)", { amount: later.peakMb, unit: "MB" }, undefined),
  ];
}

/**
 * Idle seconds before the second reading after the load: the first shows what the load left, V8's
 * uncollected garbage included (V8 lets its old generation grow to a few times its live size before
 * collecting); by the second, V8's memory reducer has collected and shrunk the heap (~35 s after the
 * load here), so what remains is what the process keeps: caches, malloc arenas, code.
 */
const memorySettleSeconds = 60;

/** Restarts the service under `--cpu-prof`, loads it as `load` does, stops it and summarises the profile. */
async function profilePass(
  name: string,
  storage: ServiceStorage,
  extraFlags: readonly string[],
  dir: string,
  load: (service: ServerChild) => Promise<Measurement>,
): Promise<ProfileSummary> {
  const service = await startService({ storage, extraFlags, cpuProfileDir: dir });
  let measured: Measurement;
  try {
    measured = await load(service);
  } finally {
    await service.stop();
  }
  // One profile per thread; the main thread's is `CPU.<date>.<time>.<pid>.0.<seq>.cpuprofile`.
  const files = (await readdir(dir)).filter((f) => f.endsWith(".cpuprofile"));
  const file = files.find((f) => f.includes(`.${service.pid}.0.`)) ?? files[0];
  if (!file) throw new Error(`no .cpuprofile written into ${dir}`);
  const summary = await summarizeProfile(join(dir, file), measured.windowUs);
  log(`profile ${name}: ${Math.round(measured.load.rps)} req/s while profiled`);
  return summary;
}

/** CPU the machine spends busy over one second, % of one core (before anything of ours runs). */
async function machineBusyPct(): Promise<number> {
  const before = machineBusySeconds();
  await settle(1_000);
  return Math.round((machineBusySeconds() - before) * 100);
}

async function runSuite(options: BenchOptions): Promise<void> {
  const startedAt = new Date().toISOString();
  const busyBefore = await machineBusyPct();
  if (busyBefore > 25) log(`warning: the machine is already ${busyBefore}% busy (of one core) before the run: numbers will be noisy`);
  const storage = await prepareStorage(options.databaseUrl, options.keepData);
  const cleanups: Array<() => Promise<unknown>> = [() => storage.dispose()];
  try {
    log(`starting the service on ${storage.description}`);
    const extraFlags = options.pooler ? ["--pooler", options.pooler] : [];
    const service = await startService({ storage: storage.service, extraFlags });
    cleanups.push(() => service.stop());
    log(`service ${service.url} (pid ${service.pid})`);
    await settle(2_000);
    const idle = memoryOf(service.pid);

    const ownerUrl = await storage.ownerUrl();
    const postmasterPid = await postmasterPidOf(ownerUrl);
    await createBenchTable(ownerUrl);
    const user = await signUpBenchUser(service.url);
    let queryState = await queryEndpointState(service.url, user);
    if (queryState.ok) {
      const rls = await benchTableRls(ownerUrl);
      log(`bench_items RLS: enabled=${rls.enabled} forced=${rls.forced} policies=${rls.policies.join(",") || "none"}`);
      try {
        if (!rls.enabled || !rls.forced) throw new Error("bench_items is not under forced RLS");
        await verifyTenantIsolation(service.url, user);
      } catch (error) {
        queryState = { ok: false, reason: error instanceof Error ? error.message : String(error) };
      }
    }
    if (!queryState.ok) log(`query scenarios run their baselines only: ${queryState.reason}`);

    const ctx: SuiteContext = { options, service, ownerUrl, jwtSecret: await storage.jwtSecret(), postmasterPid, user, queryState };
    // Before the service stops: the bench role lives in its cluster.
    const releaseBaselines = async () => {
      await ctx.fastify?.stop();
      const role = ctx.benchRole;
      delete ctx.benchRole;
      await role?.drop();
    };
    cleanups.push(releaseBaselines);
    const rows: ResultRow[] = [];
    for (const [id, run] of scenarios) {
      if (!options.only.has(id)) continue;
      log(`scenario ${id}…`);
      try {
        rows.push(...(await run(ctx)));
      } catch (error) {
        rows.push(skippedRow(`${id}`, error instanceof Error ? (error.message.split("\n")[0] ?? "failed") : String(error)));
      }
    }
    await settle(1_000);
    if (options.only.has("7")) {
      const after = memoryOf(service.pid);
      await settle(memorySettleSeconds * 1_000);
      rows.push(...memoryRows(idle, after, memoryOf(service.pid)));
    }

    const profiles: Record<string, ProfileSummary> = {};
    if (options.cpuProfile) {
      await releaseBaselines();
      await service.stop();
      const stamp = startedAt.replace(/[:.]/g, "-");
      const load = (name: string, spec: { method: string; path: string; body?: string }) => (s: ServerChild) =>
        measure(name, workerScript("http-load.ts"), {
          url: s.url,
          headers: { ...(spec.body === undefined ? {} : { "content-type": "application/json" }), authorization: `Bearer ${user.accessToken}` },
          connections: options.connections,
          warmupSeconds: options.warmupSeconds,
          durationSeconds: options.durationSeconds,
          ...spec,
        }, { serverPid: s.pid });
      const queryLoad = (q: BenchQuery) => load("REST", { method: "POST", path: "/api/v1/query", body: JSON.stringify({ sql: q.sql, params: q.params }) });
      const passes: Array<[string, (s: ServerChild) => Promise<Measurement>]> = [];
      if (options.only.has("1")) {
        const credentials = JSON.stringify({ email: user.email, password: user.password });
        passes.push(["scenario 1: POST /auth/v1/token (sign-in; argon2 runs off the main thread)", load("POST /auth/v1/token", { method: "POST", path: "/auth/v1/token", body: credentials })]);
      }
      if (options.only.has("3")) passes.push(["scenario 3: GET /auth/v1/user", load("GET /auth/v1/user", { method: "GET", path: "/auth/v1/user" })]);
      if (queryState.ok && options.only.has("4")) passes.push(["scenario 4: POST /api/v1/query (1 row, REST)", queryLoad(benchQueries.oneRow)]);
      if (queryState.ok && options.only.has("5")) passes.push(["scenario 5: POST /api/v1/query (1 000 rows, REST)", queryLoad(benchQueries.thousandRows)]);
      for (const [index, [name, load]] of passes.entries()) {
        const dir = join(resultsDir, "profiles", `${stamp}-${index + 1}`);
        log(`profiling ${name}…`);
        try {
          profiles[name] = await profilePass(name, storage.service, extraFlags, dir, load);
        } catch (error) {
          log(`profile ${name} failed: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
    }

    const report = {
      startedAt,
      environment: {
        storage: storage.service.kind,
        node: process.version,
        cpus: availableParallelism(),
        cpuModel: cpus()[0]?.model ?? "unknown",
        memoryGb: Math.round(totalmem() / 2 ** 30),
        busyBeforeStartPct: busyBefore,
        loadAverageAtEnd: loadavg()[0]?.toFixed(2) ?? "?",
        uvThreadpoolSize: threadpoolSize(),
        durationSeconds: options.durationSeconds,
        warmupSeconds: options.warmupSeconds,
        connections: options.connections,
        h2Client: options.h2Client,
        serviceFlags: benchServiceFlags.join(" "),
      },
      rows,
      profiles,
    };
    const paths = await writeReport(resultsDir, report);
    console.log(formatTable(rows));
    for (const [name, summary] of Object.entries(profiles)) console.log(`\n${formatProfile(name, summary)}`);
    console.log(`\nwritten: ${paths.json}, ${paths.svg}`);
  } finally {
    for (const cleanup of cleanups.reverse()) {
      await cleanup().catch((error: unknown) => log(`cleanup failed: ${error instanceof Error ? error.message : String(error)}`));
    }
  }
}

async function main(): Promise<void> {
  let options: BenchOptions | undefined;
  try {
    options = parseBenchOptions(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`bench: ${error.message}\n\n${usage}`);
    process.exit(2);
  }
  if (!options) {
    console.log(usage);
    return;
  }
  await runSuite(options);
}

main().catch((error: unknown) => {
  console.error(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exit(1);
});
