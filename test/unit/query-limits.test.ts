import { describe, expect, it } from "vitest";
import { ConnectError } from "@connectrpc/connect";
import { reasonOf } from "../../src/errors/catalogue.js";
import { createConcurrencyLimiter } from "../../src/query/concurrency-limiter.js";
import { createLruCache } from "../../src/util/lru-cache.js";
import { scramSha256Verifier, scramVerifierMatches } from "../../src/query/scram-verifier.js";

describe("concurrency limiter", () => {
  it("caps in-flight work per key and frees slots once", () => {
    const limiter = createConcurrencyLimiter(2);
    const first = limiter.acquire("a");
    limiter.acquire("a");
    try {
      limiter.acquire("a");
      expect.unreachable();
    } catch (error) {
      const connectError = ConnectError.from(error);
      expect(reasonOf(connectError)).toBe("too_many_queries");
      expect(connectError.rawMessage).toBe("Too many concurrent queries for this tenant: at most 2 run at once (--max-concurrent-queries)");
      expect(connectError.metadata.get("retry-after")).toBe("1");
    }
    expect(() => limiter.acquire("b")).not.toThrow();
    first();
    first();
    expect(limiter.inFlight("a")).toBe(1);
    expect(() => limiter.acquire("a")).not.toThrow();
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
