import type { RateLimitConfig } from "../config/config.js";
import type { AuthEvents } from "./auth-metrics.js";
import { enforceRateLimit, rateLimitError, type RateLimiter } from "./rate-limiter.js";

/**
 * How many more failed sign-ins an account takes, from all sources together, than from one source
 * before it backs off: past that, only sources that have not failed on it are heard, once each.
 */
export const accountFailureFactor = 10;

/**
 * The budgets of the public auth endpoints, each its own: sign-ups per client IP; sign-in attempts
 * per client IP; refreshes per client IP. Sign-ins also have failure budgets per account, which
 * count wrong passwords only, so that strangers cannot lock a user out: per account and source
 * (`signin-rate-limit` failures a window), and per account from all sources (ten times that). Past
 * the account's budget a source that has failed on it is refused, but a fresh source is still
 * heard: a correct password from it signs in, a wrong one makes it a failed source. Each method
 * throws `over_request_rate_limit` with `Retry-After` when a budget is spent. A limit of 0 turns
 * that budget off.
 */
export interface AuthRateLimits {
  signUp(clientAddress: string): Promise<void>;
  /**
   * Before a password is checked. `email` is the normalised address, or undefined when the request
   * did not carry a valid one.
   */
  signIn(clientAddress: string, email: string | undefined): Promise<void>;
  /** After a wrong password (or an unknown account) for `email` from `clientAddress`. */
  signInFailed(clientAddress: string, email: string): Promise<void>;
  refresh(clientAddress: string): Promise<void>;
}

/** Creates the {@link AuthRateLimits} of `config` over `limiter`, reporting refusals by a spent failure budget to `events`. */
export function createAuthRateLimits(config: RateLimitConfig, limiter: RateLimiter, events?: Pick<AuthEvents, "rateLimited">): AuthRateLimits {
  const consume = (key: string, limit: number) => enforceRateLimit(limiter, key, limit, config.windowSeconds);
  const sourceKey = (email: string, ip: string) => `signin:source:${email}:${ip}`;
  const accountKey = (email: string) => `signin:account:${email}`;
  const accountLimit = config.signIn * accountFailureFactor;
  const peek = (key: string, limit: number) => limiter.peek(key, limit, config.windowSeconds);
  const refuse = (limit: string, retryAfterSeconds: number) => {
    events?.rateLimited(limit);
    return rateLimitError(retryAfterSeconds);
  };
  return {
    signUp: (ip) => consume(`signup:ip:${ip}`, config.signUp),
    async signIn(ip, email) {
      await consume(`signin:ip:${ip}`, config.signIn);
      if (email === undefined || config.signIn <= 0) return;
      const [fresh, source, account] = await Promise.all([
        peek(sourceKey(email, ip), 1),
        peek(sourceKey(email, ip), config.signIn),
        peek(accountKey(email), accountLimit),
      ]);
      if (!source.allowed) throw refuse("signin:source", source.retryAfterSeconds);
      if (!account.allowed && !fresh.allowed) throw refuse("signin:account", account.retryAfterSeconds);
    },
    async signInFailed(ip, email) {
      if (config.signIn <= 0) return;
      // Counted whatever the budgets say: a failure past them still weighs on them.
      await Promise.all([
        limiter.consume(sourceKey(email, ip), Number.MAX_SAFE_INTEGER, config.windowSeconds),
        limiter.consume(accountKey(email), Number.MAX_SAFE_INTEGER, config.windowSeconds),
      ]);
    },
    refresh: (ip) => consume(`refresh:ip:${ip}`, config.refresh),
  };
}
