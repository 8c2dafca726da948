import { ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { reasonOf } from "../../src/errors/catalogue.js";
import {
  createMemoryRateLimiter,
  enforceRateLimit,
  rateLimitError,
  type MemoryRateLimiterOptions,
} from "../../src/auth/rate-limiter.js";

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

describe("memory rate limiter", () => {
  it("allows `limit` requests per window, then refuses with Retry-After", async () => {
    const { limiter, at } = setup();
    expect(await limiter.consume("signin:ip:1.2.3.4", 2, 60)).toEqual({ allowed: true, retryAfterSeconds: 0, remaining: 1 });
    expect(await limiter.consume("signin:ip:1.2.3.4", 2, 60)).toEqual({ allowed: true, retryAfterSeconds: 0, remaining: 0 });
    // Full window: the next window starts in 60 s, and there the previous window still weighs 2
    // until 30 s in, so the first slot frees at 90 s.
    expect(await limiter.consume("signin:ip:1.2.3.4", 2, 60)).toEqual({ allowed: false, retryAfterSeconds: 90, remaining: 0 });
    at(89);
    expect((await limiter.consume("signin:ip:1.2.3.4", 2, 60)).allowed).toBe(false);
    at(90);
    expect((await limiter.consume("signin:ip:1.2.3.4", 2, 60)).allowed).toBe(true);
  });

  it("does not count refused requests", async () => {
    const { limiter, at } = setup();
    await limiter.consume("k", 1, 10);
    for (let i = 0; i < 50; i++) expect((await limiter.consume("k", 1, 10)).allowed).toBe(false);
    at(20);
    expect((await limiter.consume("k", 1, 10)).allowed).toBe(true);
  });

  it("slides: no burst of twice the limit across a window boundary", async () => {
    const { limiter, at } = setup();
    at(59);
    for (let i = 0; i < 10; i++) expect((await limiter.consume("k", 10, 60)).allowed).toBe(true);
    at(61);
    const refused = await limiter.consume("k", 10, 60);
    expect(refused.allowed).toBe(false);
    // 10 * (1 - 1/60) + 1 > 10 until the previous window weighs at most 9: 6 s into the new one.
    expect(refused.retryAfterSeconds).toBe(5);
    at(66);
    expect((await limiter.consume("k", 10, 60)).allowed).toBe(true);
  });

  it("answers the Retry-After of a partly refilled sliding window", async () => {
    const { limiter, at } = setup();
    for (let i = 0; i < 4; i++) await limiter.consume("k", 4, 60);
    at(60);
    // Previous window weighs 4 at the boundary; one slot frees when it weighs 3, at 15 s in.
    expect(await limiter.consume("k", 4, 60)).toEqual({ allowed: false, retryAfterSeconds: 15, remaining: 0 });
    at(75);
    expect((await limiter.consume("k", 4, 60)).allowed).toBe(true);
  });

  it("forgets counts after two idle windows", async () => {
    const { limiter, at } = setup();
    await limiter.consume("k", 1, 60);
    at(120);
    expect((await limiter.consume("k", 1, 60)).allowed).toBe(true);
  });

  it("keeps keys apart", async () => {
    const { limiter } = setup();
    expect((await limiter.consume("signin:ip:1.2.3.4", 1, 60)).allowed).toBe(true);
    expect((await limiter.consume("signin:ip:1.2.3.4", 1, 60)).allowed).toBe(false);
    expect((await limiter.consume("signin:ip:5.6.7.8", 1, 60)).allowed).toBe(true);
    expect((await limiter.consume("signin:email:x@y.z", 1, 60)).allowed).toBe(true);
  });

  it("is off at limit 0, storing nothing", async () => {
    const { limiter } = setup();
    for (let i = 0; i < 100; i++) {
      expect(await limiter.consume("k", 0, 60)).toEqual({ allowed: true, retryAfterSeconds: 0, remaining: Infinity });
    }
    expect(limiter.size).toBe(0);
  });

  it("starts over when a key is used with another window", async () => {
    const { limiter } = setup();
    await limiter.consume("k", 1, 60);
    expect((await limiter.consume("k", 1, 60)).allowed).toBe(false);
    expect((await limiter.consume("k", 1, 30)).allowed).toBe(true);
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

  it("refuses a window that is not positive", async () => {
    const { limiter } = setup();
    await expect(limiter.consume("k", 1, 0)).rejects.toThrow(RangeError);
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
