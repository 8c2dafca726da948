import { describe, expect, it } from "vitest";
import { ConnectError } from "@connectrpc/connect";
import { apiError, reasonOf } from "../../src/errors/catalogue.js";
import { createFairQueue, type FairQueueOptions, type Release } from "../../src/util/fair-queue.js";
import { createLruCache } from "../../src/util/lru-cache.js";
import { scramSha256Verifier, scramVerifierMatches } from "../../src/query/scram-verifier.js";

describe("fair queue", () => {
  const queue = (overrides: Partial<FairQueueOptions> = {}) =>
    createFairQueue({
      capacity: 4,
      perKeyMax: 4,
      queueLength: 3,
      timeoutMs: 1000,
      full: () => apiError("too_many_queries", "full", { headers: { "Retry-After": "1" } }),
      timedOut: () => apiError("server_busy", "timed out", { headers: { "Retry-After": "1" } }),
      ...overrides,
    });
  const reasonOfFailure = (promise: Promise<unknown>) => promise.then(() => "granted", (error: unknown) => reasonOf(ConnectError.from(error)));

  it("queues beyond the capacity and refuses only when the key's queue is full", async () => {
    const slots = queue();
    const running = await Promise.all(Array.from({ length: 4 }, () => slots.acquire("a")));
    const waiting = Array.from({ length: 3 }, () => slots.acquire("a"));
    expect(slots.waiting("a")).toBe(3);
    const refused = await reasonOfFailure(slots.acquire("a"));
    expect(refused).toBe("too_many_queries");
    running[0]?.();
    running[0]?.();
    expect(slots.inFlight("a")).toBe(4);
    expect(slots.waiting("a")).toBe(2);
    for (const release of running) release();
    for (const release of await Promise.all(waiting)) release();
    expect(slots.inFlight("a")).toBe(0);
  });

  it("fails a request that waited longer than the timeout, with Retry-After", async () => {
    const slots = queue({ capacity: 1, timeoutMs: 20 });
    const held = await slots.acquire("a");
    const error = await slots.acquire("a").catch((e: unknown) => ConnectError.from(e));
    expect(reasonOf(error as ConnectError)).toBe("server_busy");
    expect((error as ConnectError).metadata.get("retry-after")).toBe("1");
    expect(slots.waiting("a")).toBe(0);
    held();
    expect(slots.inFlight("a")).toBe(0);
  });

  it("gives a freed slot to the key holding the fewest, so two busy keys split the slots and a third goes first", async () => {
    const slots = queue({ capacity: 4, queueLength: 100 });
    const a = await Promise.all(Array.from({ length: 4 }, () => slots.acquire("a")));
    const aWaiting = Array.from({ length: 10 }, () => slots.acquire("a"));
    const bWaiting = Array.from({ length: 10 }, () => slots.acquire("b"));
    a[0]?.();
    a[1]?.();
    await Promise.resolve();
    expect([slots.inFlight("a"), slots.inFlight("b")]).toEqual([2, 2]);
    const c = slots.acquire("c");
    a[2]?.();
    await expect(c).resolves.toBeTypeOf("function");
    expect(slots.inFlight("c")).toBe(1);
    expect(slots.waiting("a") + slots.waiting("b")).toBe(20 - 2);
    for (const release of a) release();
    // Drain everything: every waiter is eventually served.
    const drain = async (pending: Promise<Release>[]) => {
      for (const p of pending) (await p)();
    };
    (await c)();
    await Promise.all([drain(aWaiting), drain(bWaiting)]);
    expect(slots.inFlight("a") + slots.inFlight("b")).toBe(0);
  });

  it("caps one key below the capacity when perKeyMax says so", async () => {
    const slots = queue({ capacity: 4, perKeyMax: 2 });
    await slots.acquire("a");
    await slots.acquire("a");
    const third = slots.acquire("a");
    expect(slots.waiting("a")).toBe(1);
    await expect(slots.acquire("b")).resolves.toBeTypeOf("function");
    third.catch(() => undefined);
    expect(await Promise.race([third.then(() => "granted"), new Promise((r) => setTimeout(() => r("waiting"), 20))])).toBe("waiting");
  });
});

describe("LRU cache", () => {
  it("evicts the least recently used entry", () => {
    const cache = createLruCache<string, number>(2);
    cache.set("a", 1);
    cache.set("b", 2);
    cache.get("a");
    cache.set("c", 3);
    expect(cache.get("b")).toBeUndefined();
    expect(cache.get("a")).toBe(1);
    expect(cache.size).toBe(2);
  });
});

describe("SCRAM-SHA-256 verifier", () => {
  it("matches the RFC 7677 example (salt W22ZaJ0SNY7soEsUEjb6gQ==, 4096 iterations)", () => {
    const verifier = scramSha256Verifier("pencil", { salt: Buffer.from("W22ZaJ0SNY7soEsUEjb6gQ==", "base64") });
    // Stored and server keys derived from the RFC's SaltedPassword.
    expect(verifier).toBe(
      "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
    );
    expect(scramVerifierMatches(verifier, "pencil")).toBe(true);
    expect(scramVerifierMatches(verifier, "pencil2")).toBe(false);
    expect(() => scramSha256Verifier("pässword")).toThrow(RangeError);
  });
});
