import type { ConnectError } from "@connectrpc/connect";
import { apiError } from "../errors/catalogue.js";

/** The answer to one {@link RateLimiter.consume}. */
export interface RateLimitDecision {
  /** Whether the request fits the budget (and was counted). */
  allowed: boolean;
  /** When refused: whole seconds (at least 1) until a request would be allowed; 0 when allowed. */
  retryAfterSeconds: number;
  /** Requests still allowed right now after this one; `Infinity` when the limit is off. */
  remaining: number;
}

/**
 * Counts requests per key against a per-window budget. Keys name what is limited, such as
 * `signin:ip:1.2.3.4` or `signin:email:x@y`. Asynchronous so that a store shared by several
 * instances (a PostgreSQL table) can implement it; the in-memory one is per process.
 */
export interface RateLimiter {
  /**
   * Counts one request for `key` if at most `limit` requests fall in any `windowSeconds` window;
   * refused requests are not counted. `limit` 0 (or less) turns the limit off.
   */
  consume(key: string, limit: number, windowSeconds: number): Promise<RateLimitDecision>;
}

/** Options of {@link createMemoryRateLimiter}. */
export interface MemoryRateLimiterOptions {
  /** Clock in milliseconds; default `Date.now`. */
  now?: () => number;
  /** Most keys held; beyond it the least recently used key is forgotten. Default 100 000. */
  maxKeys?: number;
  /** How often, at most, all keys are scanned for expired ones, in seconds. Default 60. */
  sweepIntervalSeconds?: number;
}

/** A {@link RateLimiter} held in this process's memory. */
export interface MemoryRateLimiter extends RateLimiter {
  /** Keys currently held. */
  readonly size: number;
}

interface Counter {
  windowMs: number;
  /** Start of the current fixed window, a multiple of `windowMs`. */
  start: number;
  previous: number;
  current: number;
}

const allowedWithoutLimit: RateLimitDecision = Object.freeze({ allowed: true, retryAfterSeconds: 0, remaining: Infinity });

/**
 * Creates an in-memory sliding-window limiter. Each key keeps the counts of the current and the
 * previous fixed window and weighs the previous one by how much of it still overlaps the sliding
 * window (the "sliding window counter" of Cloudflare and others): two numbers per key, and no burst
 * of twice the limit across a window boundary as with plain fixed windows.
 *
 * Memory is bounded: expired keys are swept periodically and, past `maxKeys`, the least recently used
 * key is dropped. Dropping forgets that key's count, so `maxKeys` should sit well above the number of
 * keys live within one window. Limits are per process; instances behind a load balancer each allow the
 * full budget until a shared store replaces this one.
 */
export function createMemoryRateLimiter(options: MemoryRateLimiterOptions = {}): MemoryRateLimiter {
  const now = options.now ?? Date.now;
  const maxKeys = options.maxKeys ?? 100_000;
  const sweepIntervalMs = (options.sweepIntervalSeconds ?? 60) * 1000;
  if (!Number.isInteger(maxKeys) || maxKeys < 1) throw new RangeError("maxKeys must be a positive integer");

  // A Map iterates in insertion order; re-inserting on every touch makes the first key the least recent.
  const counters = new Map<string, Counter>();
  let lastSweep = now();

  const expired = (counter: Counter, t: number) => t >= counter.start + 2 * counter.windowMs;

  function sweep(t: number): void {
    lastSweep = t;
    for (const [key, counter] of counters) if (expired(counter, t)) counters.delete(key);
  }

  function consumeNow(key: string, limit: number, windowSeconds: number): RateLimitDecision {
    if (limit <= 0) return allowedWithoutLimit;
    if (!(windowSeconds > 0) || !Number.isFinite(windowSeconds)) throw new RangeError("windowSeconds must be positive");
    const t = now();
    if (t - lastSweep >= sweepIntervalMs) sweep(t);

    const windowMs = windowSeconds * 1000;
    const start = Math.floor(t / windowMs) * windowMs;
    let counter = counters.get(key);
    if (!counter || counter.windowMs !== windowMs || start >= counter.start + 2 * windowMs) {
      counter = { windowMs, start, previous: 0, current: 0 };
    } else if (start > counter.start) {
      counter = { windowMs, start, previous: counter.current, current: 0 };
    }
    counters.delete(key);
    counters.set(key, counter);
    while (counters.size > maxKeys) {
      const oldest = counters.keys().next();
      if (oldest.done) break;
      counters.delete(oldest.value);
    }

    const elapsed = t - start;
    const estimate = counter.previous * (1 - elapsed / windowMs) + counter.current;
    if (estimate + 1 <= limit) {
      counter.current++;
      return { allowed: true, retryAfterSeconds: 0, remaining: Math.floor(limit - estimate - 1) };
    }

    let waitMs: number;
    if (counter.current + 1 <= limit) {
      // The previous window's weight must fall until one more request fits within this window.
      waitMs = windowMs * (1 - (limit - counter.current - 1) / counter.previous) - elapsed;
    } else {
      // This window is full: wait for the next, then for this window's weight to fall enough there.
      waitMs = windowMs - elapsed + windowMs * Math.max(0, 1 - (limit - 1) / counter.current);
    }
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)), remaining: 0 };
  }

  return {
    get size() {
      return counters.size;
    },
    consume(key, limit, windowSeconds) {
      try {
        return Promise.resolve(consumeNow(key, limit, windowSeconds));
      } catch (error) {
        return Promise.reject(error);
      }
    },
  };
}

/** The `over_request_rate_limit` error, with a `Retry-After` header of `retryAfterSeconds`. */
export function rateLimitError(retryAfterSeconds: number): ConnectError {
  const seconds = Math.max(1, Math.ceil(retryAfterSeconds));
  return apiError("over_request_rate_limit", undefined, { headers: { "retry-after": String(seconds) } });
}

/** Consumes one request of `key` and throws {@link rateLimitError} when the budget is spent. */
export async function enforceRateLimit(
  limiter: RateLimiter,
  key: string,
  limit: number,
  windowSeconds: number,
): Promise<void> {
  const decision = await limiter.consume(key, limit, windowSeconds);
  if (!decision.allowed) throw rateLimitError(decision.retryAfterSeconds);
}
