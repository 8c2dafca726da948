import { LatencySamples } from "./latency.js";
import { cpuMsSince, emit, type LoadResult } from "./worker-protocol.js";

/** Options of {@link runClosedLoop}. */
export interface ClosedLoopOptions {
  /** Calls kept in flight at once; each loop starts its next call when the previous one ends. */
  concurrency: number;
  warmupSeconds: number;
  durationSeconds: number;
  /**
   * One call; `loop` is the index of the calling loop (0 … concurrency-1), for per-loop state.
   * A rejection counts as an error and the loop goes on.
   */
  call(loop: number): Promise<void>;
}

/**
 * Drives `call` from `concurrency` loops for warm-up plus duration, and measures only the
 * duration: successes, errors, latency percentiles and this process's CPU time. Emits the
 * `measuring` and `measured` protocol lines at the window's edges.
 */
export async function runClosedLoop(options: ClosedLoopOptions): Promise<LoadResult> {
  const samples = new LatencySamples();
  let errors = 0;
  let errorSample: string | undefined;
  let measuring = false;
  let stopped = false;

  async function loop(index: number): Promise<void> {
    while (!stopped) {
      const began = performance.now();
      try {
        await options.call(index);
        if (measuring) samples.add(performance.now() - began);
      } catch (error) {
        if (measuring) {
          errors++;
          errorSample ??= error instanceof Error ? error.message : String(error);
        }
      }
    }
  }

  const loops = Array.from({ length: options.concurrency }, (_, i) => loop(i));
  await new Promise((resolve) => setTimeout(resolve, options.warmupSeconds * 1000));
  const cpu = process.cpuUsage();
  const began = performance.now();
  measuring = true;
  emit({ type: "measuring" });
  await new Promise((resolve) => setTimeout(resolve, options.durationSeconds * 1000));
  measuring = false;
  const seconds = (performance.now() - began) / 1000;
  const clientCpuMs = cpuMsSince(cpu);
  emit({ type: "measured" });
  stopped = true;
  await Promise.all(loops);
  const [p50 = 0, p99 = 0, max = 0] = samples.percentiles(50, 99, 100);
  return {
    requests: samples.count,
    errors,
    ...(errorSample === undefined ? {} : { errorSample }),
    seconds,
    rps: samples.count / seconds,
    p50Ms: p50,
    p99Ms: p99,
    maxMs: max,
    clientCpuMs,
  };
}
