/**
 * How the orchestrator and its load workers talk. A worker gets its spec as JSON in the environment
 * variable `BENCH_SPEC` (not in argv, which `ps` shows: specs hold tokens and database URLs) and
 * writes JSON lines to stdout: `measuring` when its measured window opens, `measured` when it
 * closes, then one `result`. Anything else a worker prints goes to stderr.
 */

/** What one load run measured. */
export interface LoadResult {
  /** Successful requests in the measured window. */
  requests: number;
  /** Failed requests (non-2xx answers, transport errors, timeouts) in the measured window. */
  errors: number;
  /** One failure, to tell what went wrong. */
  errorSample?: string;
  /** Length of the measured window, seconds. */
  seconds: number;
  /** Successful requests per second. */
  rps: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** CPU time the load worker itself spent in the measured window, ms (client overhead). */
  clientCpuMs: number;
}

/** A line a worker writes to stdout. */
export type WorkerMessage =
  | { type: "measuring" }
  | { type: "measured" }
  | { type: "result"; result: LoadResult }
  | { type: "ready"; url: string };

/** Writes one protocol line to stdout. */
export function emit(message: WorkerMessage): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

/** Name of the environment variable carrying a worker's spec. */
export const specVariable = "BENCH_SPEC";

/** The worker's spec from {@link specVariable}. */
export function readSpec<T>(): T {
  const raw = process.env[specVariable];
  if (raw === undefined) throw new Error(`worker spec (JSON) expected in ${specVariable}`);
  return JSON.parse(raw) as T;
}

/** Milliseconds of CPU (user + system) this process spent since `since`. */
export function cpuMsSince(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
}

/** Runs a worker's `main`, printing a failure to stderr and exiting non-zero. */
export function runWorkerMain(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
      process.exit(1);
    },
  );
}
