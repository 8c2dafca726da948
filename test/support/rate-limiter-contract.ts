import { describe, expect, it } from "vitest";
import type { RateLimiter } from "../../src/auth/rate-limiter.js";

/** A limiter under test on a controlled clock. */
export interface LimiterUnderTest {
  limiter: RateLimiter;
  /** Sets the clock to `seconds` after the start (a multiple of every window used). */
  at(seconds: number): void;
  /** A key unused by any other test of the run (limiters may share a store). */
  key(name: string): string;
}

/**
 * The behaviour every {@link RateLimiter} shares, whatever its store: a sliding-window counter that
 * counts allowed requests only, answers Retry-After, and keeps keys and windows apart.
 */
export function describeRateLimiterSemantics(name: string, setup: () => LimiterUnderTest | Promise<LimiterUnderTest>): void {
  describe(`${name}: sliding-window semantics`, () => {
    it("allows `limit` requests per window, then refuses with Retry-After", async () => {
      const { limiter, at, key } = await setup();
      const k = key("signin:ip:1.2.3.4");
      expect(await limiter.consume(k, 2, 60)).toEqual({ allowed: true, retryAfterSeconds: 0, remaining: 1 });
      expect(await limiter.consume(k, 2, 60)).toEqual({ allowed: true, retryAfterSeconds: 0, remaining: 0 });
      // Full window: the next window starts in 60 s, and there the previous window still weighs 2
      // until 30 s in, so the first slot frees at 90 s.
      expect(await limiter.consume(k, 2, 60)).toEqual({ allowed: false, retryAfterSeconds: 90, remaining: 0 });
      at(89);
      expect((await limiter.consume(k, 2, 60)).allowed).toBe(false);
      at(90);
      expect((await limiter.consume(k, 2, 60)).allowed).toBe(true);
    });

    it("peeks: decides as consume would, counting nothing", async () => {
      const { limiter, key } = await setup();
      const k = key("peek");
      expect(await limiter.peek(k, 1, 60)).toEqual({ allowed: true, retryAfterSeconds: 0, remaining: 0 });
      expect(await limiter.peek(k, 1, 60)).toEqual({ allowed: true, retryAfterSeconds: 0, remaining: 0 });
      await limiter.consume(k, 1, 60);
      expect(await limiter.peek(k, 1, 60)).toEqual({ allowed: false, retryAfterSeconds: 120, remaining: 0 });
      expect((await limiter.peek(k, 2, 60)).allowed).toBe(true);
      expect((await limiter.consume(k, 2, 60)).allowed).toBe(true);
    });

    it("does not count refused requests", async () => {
      const { limiter, at, key } = await setup();
      const k = key("k");
      await limiter.consume(k, 1, 10);
      for (let i = 0; i < 20; i++) expect((await limiter.consume(k, 1, 10)).allowed).toBe(false);
      at(20);
      expect((await limiter.consume(k, 1, 10)).allowed).toBe(true);
    });

    it("slides: no burst of twice the limit across a window boundary", async () => {
      const { limiter, at, key } = await setup();
      const k = key("k");
      at(59);
      for (let i = 0; i < 10; i++) expect((await limiter.consume(k, 10, 60)).allowed).toBe(true);
      at(61);
      const refused = await limiter.consume(k, 10, 60);
      expect(refused.allowed).toBe(false);
      // 10 * (1 - 1/60) + 1 > 10 until the previous window weighs at most 9: 6 s into the new one.
      expect(refused.retryAfterSeconds).toBe(5);
      at(66);
      expect((await limiter.consume(k, 10, 60)).allowed).toBe(true);
    });

    it("answers the Retry-After of a partly refilled sliding window", async () => {
      const { limiter, at, key } = await setup();
      const k = key("k");
      for (let i = 0; i < 4; i++) await limiter.consume(k, 4, 60);
      at(60);
      // Previous window weighs 4 at the boundary; one slot frees when it weighs 3, at 15 s in.
      expect(await limiter.consume(k, 4, 60)).toEqual({ allowed: false, retryAfterSeconds: 15, remaining: 0 });
      at(75);
      expect((await limiter.consume(k, 4, 60)).allowed).toBe(true);
    });

    it("forgets counts after two idle windows", async () => {
      const { limiter, at, key } = await setup();
      const k = key("k");
      await limiter.consume(k, 1, 60);
      at(120);
      expect((await limiter.consume(k, 1, 60)).allowed).toBe(true);
    });

    it("keeps keys apart", async () => {
      const { limiter, key } = await setup();
      expect((await limiter.consume(key("signin:ip:1.2.3.4"), 1, 60)).allowed).toBe(true);
      expect((await limiter.consume(key("signin:ip:1.2.3.4"), 1, 60)).allowed).toBe(false);
      expect((await limiter.consume(key("signin:ip:5.6.7.8"), 1, 60)).allowed).toBe(true);
      expect((await limiter.consume(key("signin:email:x@y.z"), 1, 60)).allowed).toBe(true);
    });

    it("is off at limit 0", async () => {
      const { limiter, key } = await setup();
      for (let i = 0; i < 20; i++) {
        expect(await limiter.consume(key("k"), 0, 60)).toEqual({ allowed: true, retryAfterSeconds: 0, remaining: Infinity });
      }
    });

    it("starts over when a key is used with another window", async () => {
      const { limiter, key } = await setup();
      const k = key("k");
      await limiter.consume(k, 1, 60);
      expect((await limiter.consume(k, 1, 60)).allowed).toBe(false);
      expect((await limiter.consume(k, 1, 30)).allowed).toBe(true);
    });

    it("refuses a window that is not positive", async () => {
      const { limiter, key } = await setup();
      await expect(limiter.consume(key("k"), 1, 0)).rejects.toThrow(RangeError);
    });
  });
}
