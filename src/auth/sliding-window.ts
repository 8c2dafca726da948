import type { RateLimitDecision } from "./rate-limiter.js";

/**
 * The state of one key of a sliding-window-counter limiter: the counts of the current and the
 * previous fixed window (the "sliding window counter" of Cloudflare and others). Two numbers per
 * key, and no burst of twice the limit across a window boundary as with plain fixed windows.
 */
export interface WindowCounter {
  windowMs: number;
  /** Start of the current fixed window, a multiple of `windowMs`. */
  start: number;
  previous: number;
  current: number;
}

/** What one request does to a {@link WindowCounter}. */
export interface SlideResult {
  /** The counter afterwards: rolled over to the window of `now`, and counting the request if allowed. */
  counter: WindowCounter;
  decision: RateLimitDecision;
}

/** Whether `counter` holds nothing that still weighs at time `now` (it can be forgotten). */
export function isExpired(counter: WindowCounter, now: number): boolean {
  return now >= counter.start + 2 * counter.windowMs;
}

/**
 * Decides one request at time `now` (milliseconds) against `limit` requests per `windowMs`: the
 * previous window's count weighs by how much of it still overlaps the sliding window. Refused
 * requests are not counted. Pure: the caller stores the returned counter. `limit` must be positive.
 */
export function slideWindow(counter: WindowCounter | undefined, now: number, limit: number, windowMs: number): SlideResult {
  const start = Math.floor(now / windowMs) * windowMs;
  let next: WindowCounter;
  if (!counter || counter.windowMs !== windowMs || start >= counter.start + 2 * windowMs) {
    next = { windowMs, start, previous: 0, current: 0 };
  } else if (start > counter.start) {
    next = { windowMs, start, previous: counter.current, current: 0 };
  } else {
    next = { ...counter };
  }

  const elapsed = now - start;
  const estimate = next.previous * (1 - elapsed / windowMs) + next.current;
  if (estimate + 1 <= limit) {
    next.current++;
    return { counter: next, decision: { allowed: true, retryAfterSeconds: 0, remaining: Math.floor(limit - estimate - 1) } };
  }

  let waitMs: number;
  if (next.current + 1 <= limit) {
    // The previous window's weight must fall until one more request fits within this window.
    waitMs = windowMs * (1 - (limit - next.current - 1) / next.previous) - elapsed;
  } else {
    // This window is full: wait for the next, then for this window's weight to fall enough there.
    waitMs = windowMs - elapsed + windowMs * Math.max(0, 1 - (limit - 1) / next.current);
  }
  return { counter: next, decision: { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)), remaining: 0 } };
}

/** Checks a window length in seconds and returns it in milliseconds. */
export function windowMsOf(windowSeconds: number): number {
  if (!(windowSeconds > 0) || !Number.isFinite(windowSeconds)) throw new RangeError("windowSeconds must be positive");
  return windowSeconds * 1000;
}
