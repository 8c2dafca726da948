import { parseArgs } from "node:util";

/** Scenario ids of issue 7. */
export const scenarioIds = ["1", "2", "3", "4", "5", "6", "7", "8"] as const;
/** One of {@link scenarioIds}. */
export type ScenarioId = (typeof scenarioIds)[number];

/** Validated options of `npm run bench`. */
export interface BenchOptions {
  /** Measured seconds per load run (each run also gets {@link BenchOptions.warmupSeconds} of warm-up). */
  durationSeconds: number;
  /** Unmeasured seconds before each load run. */
  warmupSeconds: number;
  /**
   * Times each comparison's runs are repeated in turn (measured, baseline, measured, baseline, …);
   * its ratio is the median of the rounds' ratios.
   */
  rounds: number;
  /** Concurrent connections (HTTP/1.1) or in-flight calls (h2, direct pg, argon2 threads excepted). */
  connections: number;
  /** External PostgreSQL (a scratch database is created on it and dropped); embedded storage when absent. */
  databaseUrl: string | undefined;
  /** Scenarios to run (7, memory, is always reported). */
  only: ReadonlySet<ScenarioId>;
  /** Write `--cpu-prof` profiles of the service into bench/results/profiles and summarise them. */
  cpuProfile: boolean;
  /** Keep the data directory instead of deleting it. */
  keepData: boolean;
  /** The Connect/gRPC load client: connect-node's transports, or a raw HTTP/2 client (cheaper). */
  h2Client: "connect-node" | "raw-h2";
  /** The service's `--pooler` (e.g. `transaction` on a direct URL: prepared statements off); default its own. */
  pooler: string | undefined;
}

/** A bad command line: printed with {@link usage} and exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** The `--help` text. */
export const usage = `Usage: npm run bench -- [flags]

  --duration <s>        measured seconds per run (default 5)
  --warmup <s>          unmeasured seconds before each run (default 1)
  --rounds <n>          run each comparison's measurement and baseline in turn n times and report
                        the median of the n ratios (default 3; this VM's speed drifts by a third
                        within minutes, which one pair of runs takes for a difference)
  --connections <n>     concurrent connections / in-flight calls (default 16)
  --database-url <url>  run on this PostgreSQL (a scratch database is created and dropped)
  --only <list>         comma-separated scenarios, e.g. 3,4 (default all)
  --cpu-prof            profile the service (node --cpu-prof) and print its top functions
  --h2-client <kind>    Connect/gRPC load client: raw-h2 (default), a bare node:http2 client
                        sending pre-encoded calls (checks status; the content is checked once
                        with a real client), or connect-node, whose transports cost the load
                        process several times the CPU of the server they load
  --pooler <mode>       the service's --pooler: auto (its default), none, transaction
  --keep-data           keep the bench data directory
  --help                print this help`;

function positive(name: string, raw: string | undefined, fallback: number, max: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0 || value > max) throw new UsageError(`--${name} must be a number in (0, ${max}], got "${raw}"`);
  return value;
}

/** Parses the bench command line; returns `undefined` for `--help`. */
export function parseBenchOptions(argv: string[]): BenchOptions | undefined {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        duration: { type: "string" },
        warmup: { type: "string" },
        rounds: { type: "string" },
        connections: { type: "string" },
        "database-url": { type: "string" },
        only: { type: "string" },
        "cpu-prof": { type: "boolean" },
        "keep-data": { type: "boolean" },
        "h2-client": { type: "string" },
        pooler: { type: "string" },
        help: { type: "boolean" },
      },
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help) return undefined;
  const only = (values.only ?? scenarioIds.join(",")).split(",").map((s) => s.trim());
  for (const id of only) {
    if (!(scenarioIds as readonly string[]).includes(id)) throw new UsageError(`--only: unknown scenario "${id}"`);
  }
  const databaseUrl = values["database-url"];
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new UsageError("--database-url must start with postgres:// or postgresql://");
  }
  // Like autocannon for REST: a lean client, so that the server under test gets the CPU.
  const h2Client = values["h2-client"] ?? "raw-h2";
  if (h2Client !== "connect-node" && h2Client !== "raw-h2") throw new UsageError(`--h2-client must be connect-node or raw-h2, got "${h2Client}"`);
  const pooler = values.pooler;
  if (pooler !== undefined && !["auto", "none", "transaction"].includes(pooler)) {
    throw new UsageError(`--pooler must be auto, none or transaction, got "${pooler}"`);
  }
  return {
    h2Client,
    pooler,
    durationSeconds: positive("duration", values.duration, 5, 600),
    warmupSeconds: values.warmup === "0" ? 0 : positive("warmup", values.warmup, 1, 60),
    rounds: Math.round(positive("rounds", values.rounds, 3, 20)),
    connections: Math.round(positive("connections", values.connections, 16, 1024)),
    databaseUrl,
    only: new Set(only as ScenarioId[]),
    cpuProfile: values["cpu-prof"] === true,
    keepData: values["keep-data"] === true,
  };
}
