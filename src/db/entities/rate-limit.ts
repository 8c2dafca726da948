import { EntitySchema } from "@mikro-orm/core";

/**
 * One key's sliding-window counter (`../../auth/sliding-window.ts`), shared by every instance on the
 * database. Read and written with raw SQL under a row lock by `../../auth/postgres-rate-limiter.ts`;
 * the entity describes the table so that schema checks cover it.
 */
export interface RateLimitCounter {
  /** What is limited, e.g. `signin:ip:1.2.3.4`. */
  key: string;
  windowMs: string;
  /** Start of the current fixed window, in milliseconds since the epoch. */
  windowStart: string;
  previous: number;
  current: number;
  /** When the counter stops mattering (two windows after `windowStart`). */
  expiresAt: Date;
}

/** `auth.rate_limits`. */
export const RateLimitEntity = new EntitySchema<RateLimitCounter>({
  name: "RateLimitCounter",
  schema: "auth",
  tableName: "rate_limits",
  indexes: [{ name: "rate_limits_expires_at_index", properties: ["expiresAt"] }],
  properties: {
    key: { type: "text", primary: true },
    windowMs: { type: "bigint" },
    windowStart: { type: "bigint" },
    previous: { type: "integer" },
    current: { type: "integer" },
    expiresAt: { type: "datetime" },
  },
});
