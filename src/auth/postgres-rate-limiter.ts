import type { MikroORM } from "@mikro-orm/postgresql";
import type { Logger } from "../logging/logger.js";
import type { RateLimitDecision, RateLimiter } from "./rate-limiter.js";
import { slideWindow, windowMsOf, type WindowCounter } from "./sliding-window.js";

/** Options of {@link createPostgresRateLimiter}. */
export interface PostgresRateLimiterOptions {
  orm: MikroORM;
  logger: Pick<Logger, "warn">;
  /** Clock in milliseconds; default the database's, so that instances with drifting clocks agree. */
  now?: () => number;
  /** How often, at most, this instance deletes expired counters, in seconds. Default 60. */
  sweepIntervalSeconds?: number;
}

// Creates the key's row if needed and locks it for the transaction, returning it with the database clock.
const lockCounterSql = `
  insert into auth.rate_limits as r (key, window_ms, window_start, previous, current, expires_at)
  values (?, 0, 0, 0, 0, clock_timestamp())
  on conflict (key) do update set key = excluded.key
  returning r.window_ms, r.window_start, r.previous, r.current,
            (extract(epoch from clock_timestamp()) * 1000)::float8 as now_ms`;

const storeCounterSql = `
  update auth.rate_limits
  set window_ms = ?, window_start = ?, previous = ?, current = ?, expires_at = to_timestamp(?::float8 / 1000)
  where key = ?`;

const readCounterSql = `
  select window_ms, window_start, previous, current, (extract(epoch from clock_timestamp()) * 1000)::float8 as now_ms
  from (select 1) as one left join auth.rate_limits on key = ?`;

const sweepSql = "delete from auth.rate_limits where expires_at < clock_timestamp()";

interface CounterRow {
  window_ms: string | number | null;
  window_start: string | number | null;
  previous: number | null;
  current: number | null;
  now_ms: number;
}

/** The stored counter of `row`, or undefined for a key never counted. */
function counterOf(row: CounterRow): WindowCounter | undefined {
  if (row.window_ms === null || row.window_start === null) return undefined;
  return { windowMs: Number(row.window_ms), start: Number(row.window_start), previous: row.previous ?? 0, current: row.current ?? 0 };
}

const allowedWithoutLimit: RateLimitDecision = Object.freeze({ allowed: true, retryAfterSeconds: 0, remaining: Infinity });

/**
 * Creates a {@link RateLimiter} whose counters live in `auth.rate_limits`, shared by every instance
 * on the database: the same sliding-window counter as the in-memory limiter (see
 * `sliding-window.ts`), each decision made under the key's row lock, so concurrent requests on any
 * instances are counted exactly once each. Four round trips per request (begin, lock, store,
 * commit); the limited endpoints hash passwords or rotate tokens, which cost far more.
 */
export function createPostgresRateLimiter(options: PostgresRateLimiterOptions): RateLimiter {
  const { orm, logger } = options;
  const sweepIntervalMs = (options.sweepIntervalSeconds ?? 60) * 1000;
  let lastSweep = Date.now();

  function sweepIfDue(): void {
    if (Date.now() - lastSweep < sweepIntervalMs) return;
    lastSweep = Date.now();
    orm.em
      .getConnection()
      .execute(sweepSql, [], "run")
      .catch((error: unknown) => {
        logger.warn({ error: error instanceof Error ? error.message : String(error) }, "could not sweep expired rate-limit counters");
      });
  }

  return {
    async consume(key, limit, windowSeconds) {
      if (limit <= 0) return allowedWithoutLimit;
      const windowMs = windowMsOf(windowSeconds);
      sweepIfDue();
      return orm.em.fork().transactional(async (em) => {
        const [row] = await em.execute<CounterRow[]>(lockCounterSql, [key]);
        if (!row) throw new Error("rate-limit counter row was not returned");
        const stored = counterOf(row);
        const now = options.now?.() ?? row.now_ms;
        const { counter, decision } = slideWindow(stored, now, limit, windowMs);
        const expiresAt = counter.start + 2 * counter.windowMs;
        await em.execute(storeCounterSql, [counter.windowMs, counter.start, counter.previous, counter.current, expiresAt, key], "run");
        return decision;
      });
    },
    async peek(key, limit, windowSeconds) {
      if (limit <= 0) return allowedWithoutLimit;
      const windowMs = windowMsOf(windowSeconds);
      const [row] = await orm.em.getConnection().execute<CounterRow[]>(readCounterSql, [key]);
      if (!row) throw new Error("rate-limit counter row was not returned");
      return slideWindow(counterOf(row), options.now?.() ?? row.now_ms, limit, windowMs).decision;
    },
  };
}
