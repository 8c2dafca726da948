import { runWorker } from "./child-process.js";
import { clusterCpu, clusterCpuBetween, cpuSecondsOf, machineBusySeconds, type ClusterCpu } from "./proc.js";
import type { LoadResult } from "./worker-protocol.js";

/** One load run and the CPU its parties spent during the measured window. */
export interface Measurement {
  /** What was measured, e.g. "GET /health". */
  label: string;
  load: LoadResult;
  /** CPU of the server under load, % of one core (absent when no server was involved). */
  serverCpuPct?: number;
  /** CPU of the PostgreSQL cluster (postmaster and children), % of one core, when it runs here. */
  pgCpuPct?: number;
  /** CPU of the load worker itself, % of one core. */
  clientCpuPct: number;
  /**
   * CPU the rest of the machine used meanwhile (busy time of all cores minus server, PostgreSQL and
   * load worker), % of one core: other processes competing for the CPU make a run noisy.
   */
  otherCpuPct: number;
  /** The measured window on the monotonic clock (µs), which V8 CPU profiles also use on Linux. */
  windowUs: { from: number; to: number };
}

/** Processes whose CPU a measurement samples. */
export interface Watched {
  /** The server under load (the service, or the Fastify baseline). */
  serverPid?: number;
  /** The PostgreSQL postmaster, when the cluster runs on this machine. */
  postmasterPid?: number;
}

const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

/** Samples the CPU counters of `watched` between two calls. */
export function cpuWindow(watched: Watched): {
  open(): void;
  close(): Pick<Measurement, "serverCpuPct" | "pgCpuPct" | "windowUs"> & { machineCpuPct: number };
} {
  let began = 0;
  let from = 0;
  let server = 0;
  let cluster: ClusterCpu = new Map();
  let machine = 0;
  const sample = () => ({
    machine: machineBusySeconds(),
    server: watched.serverPid === undefined ? 0 : cpuSecondsOf(watched.serverPid),
    cluster: watched.postmasterPid === undefined ? new Map<number, number>() : clusterCpu(watched.postmasterPid),
  });
  return {
    open() {
      ({ server, cluster, machine } = sample());
      began = performance.now();
      from = monotonicUs();
    },
    close() {
      const now = sample();
      const seconds = (performance.now() - began) / 1000;
      const pct = (delta: number) => Math.round((delta / seconds) * 1000) / 10;
      return {
        windowUs: { from, to: monotonicUs() },
        machineCpuPct: pct(now.machine - machine),
        ...(watched.serverPid === undefined ? {} : { serverCpuPct: pct(now.server - server) }),
        ...(watched.postmasterPid === undefined ? {} : { pgCpuPct: pct(clusterCpuBetween(cluster, now.cluster)) }),
      };
    },
  };
}

/** Runs the worker `script` with `spec` and returns its result with the CPU of `watched`. */
export async function measure(label: string, script: string, spec: unknown, watched: Watched): Promise<Measurement> {
  const window = cpuWindow(watched);
  let cpu: ReturnType<ReturnType<typeof cpuWindow>["close"]> = { windowUs: { from: 0, to: 0 }, machineCpuPct: 0 };
  const load = await runWorker(script, spec, {
    onMeasuring: () => window.open(),
    onMeasured: () => {
      cpu = window.close();
    },
  });
  const { machineCpuPct, ...parts } = cpu;
  const clientCpuPct = Math.round((load.clientCpuMs / 1000 / load.seconds) * 1000) / 10;
  const accounted = (parts.serverCpuPct ?? 0) + (parts.pgCpuPct ?? 0) + clientCpuPct;
  return { label, load, ...parts, clientCpuPct, otherCpuPct: Math.max(0, Math.round(machineCpuPct - accounted)) };
}
