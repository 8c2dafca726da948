import { randomBytes } from "node:crypto";
import { availableParallelism } from "node:os";
import { argon2id, hash as argon2Hash, verify as argon2Verify } from "argon2";
import { apiError } from "../errors/catalogue.js";
import { createFairQueue } from "../util/fair-queue.js";

/**
 * argon2id cost parameters. They are written into every PHC hash string, so they can be raised later
 * and older hashes are recognised (and re-hashed on the next successful sign-in).
 */
export interface PasswordHashParams {
  /** Memory per hash, in KiB. */
  memoryCost: number;
  /** Passes over the memory. */
  timeCost: number;
  /** Lanes. */
  parallelism: number;
}

/** Current cost: OWASP's argon2id baseline, m = 19 MiB, t = 2, p = 1. */
export const defaultPasswordHashParams: Readonly<PasswordHashParams> = Object.freeze({
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
});

/** The outcome of checking a password against a stored hash. */
export interface PasswordVerification {
  /** Whether the password matches. */
  ok: boolean;
  /**
   * Whether the stored hash is weaker than the current parameters (older algorithm, version, memory or
   * time cost) and should be replaced by a fresh hash of the password. Only ever true when `ok` is.
   */
  needsRehash: boolean;
}

/** The argon2id parameters read from a PHC string. */
export interface ParsedPasswordHash {
  algorithm: "argon2id" | "argon2i" | "argon2d";
  /** Argon2 version; 19 (0x13) is current, 16 (0x10) is the legacy one and is implied when absent. */
  version: number;
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

/**
 * Hashes and checks passwords with argon2id.
 *
 * argon2's native binding is an N-API AsyncWorker: every hash and verify runs on libuv's threadpool,
 * never on the event loop. That pool is shared with `fs`, `dns.lookup`, async `crypto` and `zlib`
 * and holds `UV_THREADPOOL_SIZE` threads (default 4, read once when the pool starts, so it must be set
 * in the environment before the process starts). A hasher therefore runs at most `maxConcurrent`
 * argon2 jobs at a time, queueing the rest, so a flood of sign-ins leaves a thread free for the rest of
 * the process and the event loop keeps some CPU. The queue is bounded in length and in wait: beyond
 * either a hash fails at once with 503 `server_busy` (and `Retry-After`) rather than piling up.
 */
export interface PasswordHasher {
  /** The parameters new hashes are made with. */
  readonly params: Readonly<PasswordHashParams>;
  /** How many argon2 jobs may run at once. */
  readonly maxConcurrent: number;
  /** Hashes `password` (NFKC-normalised) into a PHC string carrying algorithm, parameters and salt. */
  hash(password: string): Promise<string>;
  /**
   * Checks `password` against a PHC string made by {@link PasswordHasher.hash}. A hash that cannot be
   * parsed never matches; a verify of the same cost is still spent so the answer takes as long.
   */
  verify(storedHash: string, password: string): Promise<PasswordVerification>;
  /**
   * Spends one verify of the current cost against a dummy hash and answers `false`. Used for sign-ins
   * of unknown emails so that they take as long as a wrong password for a known one.
   */
  verifyAgainstDummy(password: string): Promise<false>;
  /** Computes the dummy hash now rather than on the first unknown-email sign-in. */
  warmUp(): Promise<void>;
}

/** Options of {@link createPasswordHasher}. */
export interface PasswordHasherOptions {
  /** Overrides of {@link defaultPasswordHashParams} (tests use cheaper ones). */
  params?: Partial<PasswordHashParams>;
  /** Concurrent argon2 jobs; default {@link defaultMaxConcurrentHashes}. */
  maxConcurrent?: number;
  /** Jobs that may wait beyond the running ones (default {@link defaultHashQueue}). */
  queueLength?: number;
  /** Longest wait of a job for a thread, in ms (default {@link defaultHashQueue}). */
  queueTimeoutMs?: number;
}

/** Default bounds of the hashing queue: 100 jobs waiting, 10 s of wait. */
export const defaultHashQueue = Object.freeze({ queueLength: 100, queueTimeoutMs: 10_000 });

/** libuv's threadpool size as configured by `UV_THREADPOOL_SIZE` (default 4, clamped to 1..1024). */
export function threadpoolSize(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.UV_THREADPOOL_SIZE;
  const value = raw === undefined ? NaN : Number.parseInt(raw, 10);
  if (!Number.isFinite(value) || value < 1) return 4;
  return Math.min(value, 1024);
}

/**
 * Default cap on concurrent argon2 jobs: no more than the CPUs (more only adds contention), and one
 * fewer than the threadpool so file and DNS work never waits behind password hashing.
 */
export function defaultMaxConcurrentHashes(env: NodeJS.ProcessEnv = process.env): number {
  return Math.max(1, Math.min(availableParallelism(), threadpoolSize(env) - 1));
}

// `$argon2id$v=19$m=19456,p=1,t=2$<salt>$<hash>`: the parameter order differs between libraries.
const phcPattern = /^\$(argon2id|argon2i|argon2d)\$(?:v=(\d{1,5})\$)?([a-z]+=[A-Za-z0-9+/]*(?:,[a-z]+=[A-Za-z0-9+/]*)*)\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/;

/** Reads the algorithm and parameters of an argon2 PHC string, or `undefined` if it is not one. */
export function parsePasswordHash(storedHash: string): ParsedPasswordHash | undefined {
  const match = phcPattern.exec(storedHash);
  if (!match) return undefined;
  const [, algorithm, version, paramList = ""] = match;
  const params = new Map(paramList.split(",").map((pair) => pair.split("=", 2) as [string, string]));
  const cost = (name: string) => {
    const value = params.get(name);
    return value !== undefined && /^\d{1,10}$/.test(value) ? Number(value) : NaN;
  };
  const parsed: ParsedPasswordHash = {
    algorithm: algorithm as ParsedPasswordHash["algorithm"],
    version: version === undefined ? 0x10 : Number(version),
    memoryCost: cost("m"),
    timeCost: cost("t"),
    parallelism: cost("p"),
  };
  const complete = [parsed.memoryCost, parsed.timeCost, parsed.parallelism].every((n) => Number.isSafeInteger(n) && n > 0);
  return complete ? parsed : undefined;
}

/** Whether a hash with `parsed` parameters is weaker than one made with `current`. */
export function isWeakerThan(parsed: ParsedPasswordHash, current: Readonly<PasswordHashParams>): boolean {
  return (
    parsed.algorithm !== "argon2id" ||
    parsed.version < 0x13 ||
    parsed.memoryCost < current.memoryCost ||
    parsed.timeCost < current.timeCost
  );
}

// NIST SP 800-63B asks verifiers to normalise Unicode passwords, so the same password typed on two
// keyboards (composed vs decomposed accents, full-width digits) hashes the same.
function normalize(password: string): string {
  return password.normalize("NFKC");
}

type Gate = <T>(job: () => Promise<T>) => Promise<T>;

function createGate(max: number, queueLength: number, timeoutMs: number): Gate {
  const retryAfter = { headers: { "Retry-After": "1" } };
  const slots = createFairQueue({
    capacity: max,
    perKeyMax: max,
    queueLength,
    timeoutMs,
    full: () =>
      apiError("server_busy", `${max} password hashes are running and ${queueLength} waiting, the most allowed (--hash-queue-length)`, retryAfter),
    timedOut: () => apiError("server_busy", `A password hash waited ${timeoutMs / 1000} s for a thread (--hash-queue-timeout)`, retryAfter),
  });
  return async (job) => {
    const release = await slots.acquire("argon2");
    try {
      return await job();
    } finally {
      release();
    }
  };
}

/** Creates a {@link PasswordHasher}. */
export function createPasswordHasher(options: PasswordHasherOptions = {}): PasswordHasher {
  const params: Readonly<PasswordHashParams> = Object.freeze({ ...defaultPasswordHashParams, ...options.params });
  const maxConcurrent = options.maxConcurrent ?? defaultMaxConcurrentHashes();
  if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1) {
    throw new RangeError("maxConcurrent must be a positive integer");
  }
  const gate = createGate(maxConcurrent, options.queueLength ?? defaultHashQueue.queueLength, options.queueTimeoutMs ?? defaultHashQueue.queueTimeoutMs);
  const hashWithParams = (password: string) =>
    gate(() => argon2Hash(normalize(password), { type: argon2id, ...params }));

  let dummy: Promise<string> | undefined;
  const dummyHash = (): Promise<string> => {
    dummy ??= hashWithParams(randomBytes(32).toString("base64url")).catch((error: unknown) => {
      dummy = undefined;
      throw error;
    });
    return dummy;
  };

  const verifyAgainstDummy = async (password: string): Promise<false> => {
    const digest = await dummyHash();
    await gate(() => argon2Verify(digest, normalize(password)));
    return false;
  };

  return {
    params,
    maxConcurrent,
    hash: hashWithParams,
    async verify(storedHash, password) {
      const parsed = parsePasswordHash(storedHash);
      if (!parsed) {
        await verifyAgainstDummy(password);
        return { ok: false, needsRehash: false };
      }
      const ok = await gate(() => argon2Verify(storedHash, normalize(password)));
      return { ok, needsRehash: ok && isWeakerThan(parsed, params) };
    },
    verifyAgainstDummy,
    async warmUp() {
      await dummyHash();
    },
  };
}

/** The bounds of a hasher's queue (see {@link PasswordHasherOptions}). */
export type HashQueueOptions = Pick<PasswordHasherOptions, "queueLength" | "queueTimeoutMs">;

const defaultHashers = new Map<string, PasswordHasher>();

/**
 * The process-wide hasher with the default parameters (one per queue bounds), created on first
 * use: servers of one process share its threads.
 */
export function defaultPasswordHasher(queue: HashQueueOptions = {}): PasswordHasher {
  const key = `${queue.queueLength ?? defaultHashQueue.queueLength}:${queue.queueTimeoutMs ?? defaultHashQueue.queueTimeoutMs}`;
  let hasher = defaultHashers.get(key);
  if (!hasher) defaultHashers.set(key, (hasher = createPasswordHasher(queue)));
  return hasher;
}

/** Hashes `password` with the {@link defaultPasswordHasher}. */
export function hashPassword(password: string): Promise<string> {
  return defaultPasswordHasher().hash(password);
}

/** Checks `password` against `storedHash` with the {@link defaultPasswordHasher}. */
export function verifyPassword(storedHash: string, password: string): Promise<PasswordVerification> {
  return defaultPasswordHasher().verify(storedHash, password);
}

/** Spends one dummy verify with the {@link defaultPasswordHasher}; always `false`. */
export function verifyAgainstDummy(password: string): Promise<false> {
  return defaultPasswordHasher().verifyAgainstDummy(password);
}
