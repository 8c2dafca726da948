import { describe, expect, it } from "vitest";
import { createAuthRateLimits } from "../../src/auth/auth-rate-limits.js";
import { createMemoryRateLimiter } from "../../src/auth/rate-limiter.js";
import { reasonOf } from "../../src/errors/catalogue.js";
import { ConnectError } from "@connectrpc/connect";

const config = { windowSeconds: 60, signUp: 2, signIn: 2, refresh: 2 };

async function refused(attempt: Promise<void>): Promise<ConnectError> {
  const error = await attempt.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(ConnectError);
  return error as ConnectError;
}

describe("auth rate limits", () => {
  it("give sign-up, sign-in and refresh separate per-IP budgets", async () => {
    const limits = createAuthRateLimits(config, createMemoryRateLimiter({ now: () => 0 }));
    for (let i = 0; i < 2; i++) await limits.signUp("1.1.1.1");
    const error = await refused(limits.signUp("1.1.1.1"));
    expect(reasonOf(error)).toBe("over_request_rate_limit");
    expect(Number(error.metadata.get("retry-after"))).toBeGreaterThanOrEqual(1);
    await limits.signIn("1.1.1.1", undefined);
    await limits.refresh("1.1.1.1");
    await limits.signUp("2.2.2.2");
  });

  it("count failed sign-ins per account and source, and back off the account for failed sources only", async () => {
    const limits = createAuthRateLimits(config, createMemoryRateLimiter({ now: () => 0 }));
    // Attempts that do not fail cost no account budget.
    for (let i = 0; i < 30; i++) await limits.signIn(`1.1.1.${i}`, "a@example.com");
    // Two failures (the limit) from one source: that source is refused, others are not.
    for (let i = 0; i < 2; i++) await limits.signInFailed("9.9.9.9", "a@example.com");
    await refused(limits.signIn("9.9.9.9", "a@example.com"));
    await limits.signIn("8.8.8.8", "a@example.com");
    // Twenty failures (ten times the limit) from many sources spend the account's budget: a source
    // with one failure, under its own budget, now waits...
    for (let i = 0; i < 18; i++) await limits.signInFailed(`2.2.2.${i}`, "a@example.com");
    await refused(limits.signIn("2.2.2.0", "a@example.com"));
    // ...yet a source that never failed is still heard, and other accounts are untouched.
    await limits.signIn("3.3.3.3", "a@example.com");
    await limits.signIn("2.2.2.1", "b@example.com");
  });

  it("are off at 0", async () => {
    const limits = createAuthRateLimits({ ...config, signUp: 0 }, createMemoryRateLimiter());
    for (let i = 0; i < 100; i++) await limits.signUp("1.1.1.1");
  });
});
