import type { ConnectError } from "@connectrpc/connect";
import { apiError } from "../errors/catalogue.js";
import { isExpired, slideWindow, windowMsOf, type WindowCounter } from "./sliding-window.js";

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
  /** What {@link consume} would decide for `key` now, without counting anything. */
  peek(key: string, limit: number, windowSeconds: number): Promise<RateLimitDecision>;
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

const allowedWithoutLimit: RateLimitDecision = Object.freeze({ allowed: true, retryAfterSeconds: 0, remaining: Infinity });

/**
 * Creates an in-memory sliding-window limiter (see `sliding-window.ts`: two counts per key, and no
 * burst of twice the limit across a window boundary as with plain fixed windows).
 *
 * Memory is bounded: expired keys are swept periodically and, past `maxKeys`, the least recently used
 * key is dropped. Dropping forgets that key's count, so `maxKeys` should sit well above the number of
 * keys live within one window. Limits are per process: instances sharing a database use the
 * PostgreSQL limiter (`postgres-rate-limiter.ts`) instead.
 */
export function createMemoryRateLimiter(options: MemoryRateLimiterOptions = {}): MemoryRateLimiter {
  const now = options.now ?? Date.now;
  const maxKeys = options.maxKeys ?? 100_000;
  const sweepIntervalMs = (options.sweepIntervalSeconds ?? 60) * 1000;
  if (!Number.isInteger(maxKeys) || maxKeys < 1) throw new RangeError("maxKeys must be a positive integer");

  // A Map iterates in insertion order; re-inserting on every touch makes the first key the least recent.
  const counters = new Map<string, WindowCounter>();
  let lastSweep = now();

  function sweep(t: number): void {
    lastSweep = t;
    for (const [key, counter] of counters) if (isExpired(counter, t)) counters.delete(key);
  }

  function consumeNow(key: string, limit: number, windowSeconds: number): RateLimitDecision {
    if (limit <= 0) return allowedWithoutLimit;
    const windowMs = windowMsOf(windowSeconds);
    const t = now();
    if (t - lastSweep >= sweepIntervalMs) sweep(t);

    const { counter, decision } = slideWindow(counters.get(key), t, limit, windowMs);
    counters.delete(key);
    counters.set(key, counter);
    while (counters.size > maxKeys) {
      const oldest = counters.keys().next();
      if (oldest.done) break;
      counters.delete(oldest.value);
    }
    return decision;
  }

  function peekNow(key: string, limit: number, windowSeconds: number): RateLimitDecision {
    if (limit <= 0) return allowedWithoutLimit;
    return slideWindow(counters.get(key), now(), limit, windowMsOf(windowSeconds)).decision;
  }

  const settle = (decide: () => RateLimitDecision): Promise<RateLimitDecision> => {
    try {
      return Promise.resolve(decide());
    } catch (error) {
      return Promise.reject(error);
    }
  };
  return {
    get size() {
      return counters.size;
    },
    consume: (key, limit, windowSeconds) => settle(() => consumeNow(key, limit, windowSeconds)),
    peek: (key, limit, windowSeconds) => settle(() => peekNow(key, limit, windowSeconds)),
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
