/**
 * Baseline of scenario 1: argon2id verifies with the service's parameters (m=19456, t=2, p=1),
 * `concurrency` at a time on this process's libuv threadpool — the most sign-ins the CPU allows.
 * `node --import tsx bench/workers/argon2-floor.ts` (spec: `Argon2FloorSpec` as JSON in BENCH_SPEC).
 */
import { argon2id, hash, verify } from "argon2";
import { runClosedLoop } from "../lib/closed-loop.js";
import { emit, readSpec, runWorkerMain } from "../lib/worker-protocol.js";

/** What to run. */
export interface Argon2FloorSpec {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
  /** Verifies in flight; the threadpool size makes them parallel. */
  concurrency: number;
  warmupSeconds: number;
  durationSeconds: number;
}

async function main(): Promise<void> {
  const spec = readSpec<Argon2FloorSpec>();
  const password = "bench-password-0123456789";
  // NFKC as the service does; the password is ASCII, so it is the identity here.
  const digest = await hash(password.normalize("NFKC"), {
    type: argon2id,
    memoryCost: spec.memoryCost,
    timeCost: spec.timeCost,
    parallelism: spec.parallelism,
  });
  const result = await runClosedLoop({
    concurrency: spec.concurrency,
    warmupSeconds: spec.warmupSeconds,
    durationSeconds: spec.durationSeconds,
    async call() {
      if (!(await verify(digest, password.normalize("NFKC")))) throw new Error("argon2 verify failed");
    },
  });
  emit({ type: "result", result });
}

runWorkerMain(main);
