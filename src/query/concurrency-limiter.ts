import { apiError } from "../errors/catalogue.js";

/** Counts in-flight work per key and refuses work beyond a fixed cap. */
export interface ConcurrencyLimiter {
  /**
   * Takes one slot for `key`, or throws `too_many_queries` when `key` already holds the maximum.
   * Returns the function that gives the slot back (calling it twice is harmless).
   */
  acquire(key: string): () => void;
  /** Slots currently held by `key`. */
  inFlight(key: string): number;
}

/** Creates a {@link ConcurrencyLimiter} allowing `max` concurrent slots per key. */
export function createConcurrencyLimiter(max: number): ConcurrencyLimiter {
  const counts = new Map<string, number>();
  return {
    acquire(key) {
      const current = counts.get(key) ?? 0;
      if (current >= max) {
        throw apiError(
          "too_many_queries",
          `Too many concurrent queries for this tenant: at most ${max} run at once (--max-concurrent-queries)`,
          { headers: { "Retry-After": "1" }, metadata: { limit: String(max) } },
        );
      }
      counts.set(key, current + 1);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const left = (counts.get(key) ?? 1) - 1;
        if (left <= 0) counts.delete(key);
        else counts.set(key, left);
      };
    },
    inFlight(key) {
      return counts.get(key) ?? 0;
    },
  };
}
