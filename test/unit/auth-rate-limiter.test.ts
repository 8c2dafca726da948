import { ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { reasonOf } from "../../src/errors/catalogue.js";
import {
  createMemoryRateLimiter,
  enforceRateLimit,
  rateLimitError,
  type MemoryRateLimiterOptions,
} from "../../src/auth/rate-limiter.js";
import { describeRateLimiterSemantics } from "../support/rate-limiter-contract.js";

// A multiple of every window used here, so fixed windows start at t0.
const t0 = 1_800_000_000_000;

function setup(options: Omit<MemoryRateLimiterOptions, "now"> = {}) {
  const clock = { now: t0 };
  const limiter = createMemoryRateLimiter({ ...options, now: () => clock.now });
  const at = (seconds: number) => {
    clock.now = t0 + seconds * 1000;
  };
  return { limiter, at };
}

describeRateLimiterSemantics("memory rate limiter", () => {
  const { limiter, at } = setup();
  return { limiter, at, key: (name) => name };
});

describe("memory rate limiter", () => {
  it("stores nothing while a limit is off", async () => {
    const { limiter } = setup();
    for (let i = 0; i < 100; i++) await limiter.consume("k", 0, 60);
    expect(limiter.size).toBe(0);
  });

  it("sweeps expired keys", async () => {
    const { limiter, at } = setup({ sweepIntervalSeconds: 60 });
    for (let i = 0; i < 100; i++) await limiter.consume(`signin:ip:10.0.0.${i}`, 5, 60);
    expect(limiter.size).toBe(100);
    at(120);
    await limiter.consume("fresh", 5, 60);
    expect(limiter.size).toBe(1);
  });

  it("holds at most maxKeys keys, dropping the least recently used", async () => {
    const { limiter } = setup({ maxKeys: 3 });
    await limiter.consume("a", 1, 60);
    await limiter.consume("b", 1, 60);
    await limiter.consume("c", 1, 60);
    expect((await limiter.consume("a", 1, 60)).allowed).toBe(false); // "a" is now the most recent
    await limiter.consume("d", 1, 60); // drops "b"
    expect(limiter.size).toBe(3);
    expect((await limiter.consume("a", 1, 60)).allowed).toBe(false);
    expect((await limiter.consume("b", 1, 60)).allowed).toBe(true); // forgotten, so counted afresh
  });

  it("refuses a key bound that is not positive", () => {
    expect(() => createMemoryRateLimiter({ maxKeys: 0 })).toThrow(RangeError);
  });
});

describe("enforceRateLimit", () => {
  it("throws over_request_rate_limit with a Retry-After header", async () => {
    const { limiter } = setup();
    await enforceRateLimit(limiter, "signup:ip:1.2.3.4", 1, 60);
    const error = await enforceRateLimit(limiter, "signup:ip:1.2.3.4", 1, 60).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConnectError);
    expect(reasonOf(error as ConnectError)).toBe("over_request_rate_limit");
    expect((error as ConnectError).metadata.get("retry-after")).toBe("120"); // limit 1: the next window must pass entirely
  });

  it("rounds Retry-After up to whole seconds, at least 1", () => {
    expect(rateLimitError(0.2).metadata.get("retry-after")).toBe("1");
    expect(rateLimitError(4.1).metadata.get("retry-after")).toBe("5");
  });
});
