import type { RateLimitConfig } from "../config/config.js";
import { enforceRateLimit, type RateLimiter } from "./rate-limiter.js";

/**
 * The budgets of the public auth endpoints, each its own: sign-ups per client IP; sign-ins per client
 * IP and per account (email, so a password guesser spreading over many addresses still hits the
 * account's budget); refreshes per client IP. Each method throws `over_request_rate_limit` with
 * `Retry-After` when a budget is spent. A limit of 0 turns that budget off.
 */
export interface AuthRateLimits {
  signUp(clientAddress: string): Promise<void>;
  /** `email` is the normalised address, or undefined when the request did not carry a valid one. */
  signIn(clientAddress: string, email: string | undefined): Promise<void>;
  refresh(clientAddress: string): Promise<void>;
}

/** Creates the {@link AuthRateLimits} of `config` over `limiter`. */
export function createAuthRateLimits(config: RateLimitConfig, limiter: RateLimiter): AuthRateLimits {
  const consume = (key: string, limit: number) => enforceRateLimit(limiter, key, limit, config.windowSeconds);
  return {
    signUp: (ip) => consume(`signup:ip:${ip}`, config.signUp),
    async signIn(ip, email) {
      await consume(`signin:ip:${ip}`, config.signIn);
      if (email !== undefined) await consume(`signin:email:${email}`, config.signIn);
    },
    refresh: (ip) => consume(`refresh:ip:${ip}`, config.refresh),
  };
}
