import { beforeEach, describe, expect, it, vi } from "vitest";

// Wraps argon2 so tests can see how many hashes and verifies ran, and how many ran at once.
const probe = vi.hoisted(() => ({ hashes: 0, verifies: 0, inFlight: 0, peak: 0, lastVerifiedDigest: "" }));
vi.mock("argon2", async (importOriginal) => {
  const actual = await importOriginal<typeof import("argon2")>();
  const track = async <T>(job: () => Promise<T>): Promise<T> => {
    probe.inFlight++;
    probe.peak = Math.max(probe.peak, probe.inFlight);
    try {
      return await job();
    } finally {
      probe.inFlight--;
    }
  };
  return {
    ...actual,
    hash: ((password: string, options: Parameters<typeof actual.hash>[1]) => {
      probe.hashes++;
      return track(() => actual.hash(password, options));
    }) as typeof actual.hash,
    verify: (digest: string, password: string) => {
      probe.verifies++;
      probe.lastVerifiedDigest = digest;
      return track(() => actual.verify(digest, password));
    },
  };
});

const {
  createPasswordHasher,
  defaultMaxConcurrentHashes,
  defaultPasswordHashParams,
  hashPassword,
  isWeakerThan,
  parsePasswordHash,
  threadpoolSize,
  verifyAgainstDummy,
  verifyPassword,
} = await import("../../src/auth/passwords.js");

// Cheap parameters for tests that do not care about cost.
const cheap = { memoryCost: 1024, timeCost: 1, parallelism: 1 };

beforeEach(() => {
  Object.assign(probe, { hashes: 0, verifies: 0, inFlight: 0, peak: 0, lastVerifiedDigest: "" });
});

describe("hashPassword / verifyPassword", () => {
  it("hashes with argon2id m=19456 t=2 p=1 and keeps the parameters in the PHC string", async () => {
    const digest = await hashPassword("correct horse battery staple");
    expect(digest).toMatch(/^\$argon2id\$v=19\$/);
    expect(parsePasswordHash(digest)).toEqual({
      algorithm: "argon2id",
      version: 19,
      memoryCost: 19_456,
      timeCost: 2,
      parallelism: 1,
    });
    expect(await verifyPassword(digest, "correct horse battery staple")).toEqual({ ok: true, needsRehash: false });
    expect(await verifyPassword(digest, "correct horse battery stapl")).toEqual({ ok: false, needsRehash: false });
  });

  it("salts every hash", async () => {
    const hasher = createPasswordHasher({ params: cheap });
    expect(await hasher.hash("same password")).not.toBe(await hasher.hash("same password"));
  });

  it("normalises Unicode, so composed and decomposed accents match", async () => {
    const hasher = createPasswordHasher({ params: cheap });
    const digest = await hasher.hash("caf\u00e9-au-lait");
    expect((await hasher.verify(digest, "cafe\u0301-au-lait")).ok).toBe(true);
  });

  it("asks for a re-hash when the stored hash is weaker than the current parameters", async () => {
    const old = createPasswordHasher({ params: { memoryCost: 4096, timeCost: 1 } });
    const digest = await old.hash("an old password");
    const current = createPasswordHasher();
    expect(await current.verify(digest, "an old password")).toEqual({ ok: true, needsRehash: true });
    // A wrong password never reveals anything about the stored hash.
    expect(await current.verify(digest, "another password")).toEqual({ ok: false, needsRehash: false });
    // Stronger-than-current hashes are left alone.
    const strong = await createPasswordHasher({ params: { ...cheap, timeCost: 3 } }).hash("pw");
    expect(isWeakerThan(parsePasswordHash(strong)!, cheap)).toBe(false);
  });

  it("treats an unparseable stored hash as a mismatch, still spending one verify", async () => {
    const hasher = createPasswordHasher({ params: cheap });
    await hasher.warmUp();
    probe.verifies = 0;
    expect(await hasher.verify("not a hash", "whatever")).toEqual({ ok: false, needsRehash: false });
    expect(probe.verifies).toBe(1);
  });

  it("runs argon2 off the event loop (the native binding uses libuv's threadpool)", async () => {
    let turns = 0;
    let running = true;
    const spin = () => {
      turns++;
      if (running) setImmediate(spin);
    };
    setImmediate(spin);
    await hashPassword("a password hashed while the loop keeps turning");
    running = false;
    // A hash that blocked the loop would leave only the turns of the salt generation.
    expect(turns).toBeGreaterThan(50);
  });

  it("runs at most maxConcurrent argon2 jobs at once and queues the rest", async () => {
    const hasher = createPasswordHasher({ params: cheap, maxConcurrent: 2 });
    const digests = await Promise.all(Array.from({ length: 6 }, (_, i) => hasher.hash(`password number ${i}`)));
    expect(digests).toHaveLength(6);
    expect(probe.peak).toBeLessThanOrEqual(2);
    const results = await Promise.all(digests.map((d, i) => hasher.verify(d, `password number ${i}`)));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(probe.peak).toBeLessThanOrEqual(2);
    expect(() => createPasswordHasher({ maxConcurrent: 0 })).toThrow(RangeError);
  });
});

describe("verifyAgainstDummy", () => {
  it("spends one verify of the current cost and answers false", async () => {
    expect(await verifyAgainstDummy("some password")).toBe(false);
    expect(probe.verifies).toBe(1);
    expect(parsePasswordHash(probe.lastVerifiedDigest)).toEqual({
      algorithm: "argon2id",
      version: 19,
      ...defaultPasswordHashParams,
    });
  });

  it("computes the dummy hash once, lazily", async () => {
    const hasher = createPasswordHasher({ params: cheap });
    expect(probe.hashes).toBe(0);
    await hasher.verifyAgainstDummy("one");
    await hasher.verifyAgainstDummy("two");
    await hasher.warmUp();
    expect(probe.hashes).toBe(1);
    expect(probe.verifies).toBe(2);
  });
});

describe("parsePasswordHash", () => {
  it("reads parameters in any order and implies the legacy version when absent", () => {
    const salt = "c29tZXNhbHRzb21lc2FsdA";
    const tail = `${salt}$aGFzaGhhc2hoYXNoaGFzaA`;
    expect(parsePasswordHash(`$argon2id$v=19$m=19456,t=2,p=1$${tail}`)?.memoryCost).toBe(19_456);
    expect(parsePasswordHash(`$argon2id$v=19$p=1,t=2,m=65536$${tail}`)).toMatchObject({ memoryCost: 65_536, timeCost: 2 });
    const legacy = parsePasswordHash(`$argon2i$m=4096,t=3,p=1$${tail}`);
    expect(legacy).toMatchObject({ algorithm: "argon2i", version: 16 });
    expect(isWeakerThan(legacy!, defaultPasswordHashParams)).toBe(true);
  });

  it("refuses what is not an argon2 PHC string", () => {
    for (const bad of ["", "plain", "$2b$10$abcdefghijklmnopqrstuv", "$argon2id$v=19$m=1,t=2$a$b", "$argon2id$v=19$m=x,t=2,p=1$a$b"]) {
      expect(parsePasswordHash(bad)).toBeUndefined();
    }
  });
});

describe("threadpool sizing", () => {
  it("reads UV_THREADPOOL_SIZE with libuv's default of 4", () => {
    expect(threadpoolSize({})).toBe(4);
    expect(threadpoolSize({ UV_THREADPOOL_SIZE: "16" })).toBe(16);
    expect(threadpoolSize({ UV_THREADPOOL_SIZE: "junk" })).toBe(4);
    expect(threadpoolSize({ UV_THREADPOOL_SIZE: "5000" })).toBe(1024);
  });

  it("leaves a pool thread free for fs and dns, and never goes below one job", () => {
    expect(defaultMaxConcurrentHashes({ UV_THREADPOOL_SIZE: "1" })).toBe(1);
    expect(defaultMaxConcurrentHashes({ UV_THREADPOOL_SIZE: "2" })).toBe(1);
    expect(defaultMaxConcurrentHashes({ UV_THREADPOOL_SIZE: "1024" })).toBeGreaterThanOrEqual(1);
  });
});
