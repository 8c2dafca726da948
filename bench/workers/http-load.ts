/**
 * HTTP/1.1 load worker (autocannon): `node --import tsx bench/workers/http-load.ts` (spec: `HttpLoadSpec` as JSON in BENCH_SPEC).
 * Runs a warm-up, then the measured run, and prints the protocol lines of worker-protocol.ts.
 */
import autocannon from "autocannon";
import { cpuMsSince, emit, readSpec, runWorkerMain, type LoadResult } from "../lib/worker-protocol.js";

/** What to load. */
export interface HttpLoadSpec {
  /** Base URL, e.g. http://127.0.0.1:6543. */
  url: string;
  method: "GET" | "POST";
  path: string;
  headers: Record<string, string>;
  body?: string;
  connections: number;
  warmupSeconds: number;
  durationSeconds: number;
  /** Fixed total request rate (open-ish loop) instead of as fast as possible. */
  overallRate?: number;
  /**
   * Refresh-chain mode: each request presents a refresh token from this pool (`{"refresh_token"}`
   * body) and puts the rotated one from the answer back, so every request is a real rotation.
   * Give at least twice as many tokens as connections.
   */
  refreshTokens?: string[];
}

type Request = autocannon.Request;

/**
 * The refresh-chain request: `free` holds the live token of every idle session and outlives a run,
 * so the measured run continues the chains the warm-up left.
 */
function refreshRequests(spec: HttpLoadSpec, free: string[], sample: { error?: string }): Request[] {
  const first = free[0] ?? "";
  return [
    {
      method: "POST",
      path: spec.path,
      setupRequest(request: Request): Request {
        // An empty pool only happens after failures; reusing a token then fails visibly.
        const token = free.shift() ?? first;
        return { ...request, body: JSON.stringify({ refresh_token: token }) };
      },
      onResponse(status: number, body: string): void {
        if (status !== 200) {
          sample.error ??= `HTTP ${status}: ${body.slice(0, 200)}`;
          return;
        }
        const next = (JSON.parse(body) as { refresh_token?: string }).refresh_token;
        if (next) free.push(next);
      },
    },
  ];
}

async function run(spec: HttpLoadSpec, seconds: number, free: string[], sample: { error?: string }): Promise<autocannon.Result> {
  const requests = spec.refreshTokens ? refreshRequests(spec, free, sample) : undefined;
  return autocannon({
    url: spec.url + spec.path,
    method: spec.method,
    headers: spec.headers,
    ...(spec.body === undefined ? {} : { body: spec.body }),
    ...(requests ? { requests } : {}),
    ...(spec.overallRate === undefined ? {} : { overallRate: spec.overallRate }),
    connections: spec.connections,
    duration: seconds,
    timeout: 30,
  });
}

/** Fetches one answer of a failing request, to show what went wrong. */
async function describeFailure(spec: HttpLoadSpec): Promise<string> {
  try {
    const response = await fetch(spec.url + spec.path, {
      method: spec.method,
      headers: spec.headers,
      ...(spec.body === undefined ? {} : { body: spec.body }),
    });
    return `HTTP ${response.status}: ${(await response.text()).slice(0, 200)}`;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

async function main(): Promise<void> {
  const spec = readSpec<HttpLoadSpec>();
  const free = [...(spec.refreshTokens ?? [])];
  if (spec.warmupSeconds > 0) await run(spec, spec.warmupSeconds, free, {});
  const sample: { error?: string } = {};
  const cpu = process.cpuUsage();
  emit({ type: "measuring" });
  const result = await run(spec, spec.durationSeconds, free, sample);
  const clientCpuMs = cpuMsSince(cpu);
  emit({ type: "measured" });
  const errors = result.non2xx + result.errors;
  if (errors > 0 && sample.error === undefined && !spec.refreshTokens) sample.error = await describeFailure(spec);
  const measured: LoadResult = {
    requests: result["2xx"],
    errors,
    ...(sample.error === undefined ? {} : { errorSample: sample.error }),
    seconds: result.duration,
    rps: result["2xx"] / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    maxMs: result.latency.max,
    clientCpuMs,
  };
  emit({ type: "result", result: measured });
}

runWorkerMain(main);
