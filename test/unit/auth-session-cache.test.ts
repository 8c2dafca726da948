import { describe, expect, it, vi } from "vitest";
import { createSessionCache } from "../../src/auth/session-cache.js";
import type { SessionState } from "../../src/auth/session-store.js";

const account = { id: "u1", email: "u1@example.com", role: "authenticated", tenantId: "default", scopes: ["read", "write"] as const, createdAt: new Date(0), lastSignInAt: null, userMetadata: {}, appMetadata: {} };
const live: SessionState = { live: true, signedInAt: new Date(0), bannedUntil: null, account };

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe("session cache", () => {
  it("trusts a live state for ttlMs, then reads again", async () => {
    let t = 0;
    const cache = createSessionCache({ ttlMs: 1000, now: () => t });
    const load = vi.fn(async () => live);
    await cache.get("s1", load);
    t = 999;
    await cache.get("s1", load);
    expect(load).toHaveBeenCalledTimes(1);
    t = 1000;
    await cache.get("s1", load);
    expect(load).toHaveBeenCalledTimes(2);
  });

  it("keeps revoked and missing sessions for good", async () => {
    let t = 0;
    const cache = createSessionCache({ ttlMs: 10, now: () => t });
    const revoked = vi.fn(async () => ({ ...live, live: false }));
    const missing = vi.fn(async () => undefined);
    await cache.get("r", revoked);
    await cache.get("m", missing);
    t = 1e9;
    expect(await cache.get("r", revoked)).toMatchObject({ live: false });
    expect(await cache.get("m", missing)).toBeUndefined();
    expect(revoked).toHaveBeenCalledTimes(1);
    expect(missing).toHaveBeenCalledTimes(1);
  });

  it("shares one read among concurrent misses", async () => {
    const cache = createSessionCache();
    const read = deferred<SessionState>();
    const load = vi.fn(() => read.promise);
    const all = Promise.all([cache.get("s", load), cache.get("s", load), cache.get("s", load)]);
    read.resolve(live);
    expect(await all).toEqual([live, live, live]);
    expect(load).toHaveBeenCalledTimes(1);
  });

  it("lets a revocation win over a read that was in flight", async () => {
    const cache = createSessionCache({ ttlMs: 60_000 });
    const read = deferred<SessionState>();
    const inFlight = cache.get("s", () => read.promise);
    cache.revoke(["s"]);
    read.resolve(live);
    // The request that started before the logout may still see the old state...
    expect(await inFlight).toEqual(live);
    // ...but nothing after it does, and no new read is needed.
    const load = vi.fn(async () => live);
    expect((await cache.get("s", load))?.live ?? false).toBe(false);
    expect(load).not.toHaveBeenCalled();
  });

  it("marks a cached live session revoked at once", async () => {
    const cache = createSessionCache({ ttlMs: 60_000 });
    await cache.get("s", async () => live);
    cache.revoke(["s"]);
    expect(await cache.get("s", async () => live)).toEqual({ ...live, live: false });
  });

  it("does not cache failed reads", async () => {
    const cache = createSessionCache();
    await expect(cache.get("s", () => Promise.reject(new Error("down")))).rejects.toThrow("down");
    expect(await cache.get("s", async () => live)).toEqual(live);
  });

  it("holds at most maxEntries sessions, evicting the oldest", async () => {
    const cache = createSessionCache({ maxEntries: 3 });
    for (const id of ["a", "b", "c", "d"]) await cache.get(id, async () => live);
    expect(cache.size).toBe(3);
    const load = vi.fn(async () => live);
    await cache.get("a", load);
    expect(load).toHaveBeenCalledTimes(1);
    await cache.get("d", load);
    expect(load).toHaveBeenCalledTimes(1);
  });

  it("with ttlMs 0 reads live sessions every time", async () => {
    const cache = createSessionCache({ ttlMs: 0 });
    const load = vi.fn(async () => live);
    await cache.get("s", load);
    await cache.get("s", load);
    expect(load).toHaveBeenCalledTimes(2);
  });

  it("records a sign-in in the user's held states without reading them again, and leaves other users alone", async () => {
    let t = 0;
    const cache = createSessionCache({ ttlMs: 1000, now: () => t });
    const other: SessionState = { ...live, account: { ...account, id: "u2" } };
    await cache.get("s1", async () => live);
    await cache.get("s2", async () => other);
    const at = new Date(5000);
    cache.recordSignIn("u1", at);
    const load = vi.fn(async () => live);
    expect((await cache.get("s1", load))?.account.lastSignInAt).toEqual(at);
    expect((await cache.get("s2", load))?.account.lastSignInAt).toBeNull();
    expect(load).not.toHaveBeenCalled();
    // The expiry is the one the state was read with.
    t = 1000;
    await cache.get("s1", load);
    expect(load).toHaveBeenCalledTimes(1);
  });

  it("applies a sign-in recorded while a read was in flight to what that read returns and stores", async () => {
    const cache = createSessionCache({ ttlMs: 60_000 });
    const read = deferred<SessionState>();
    const inFlight = cache.get("s", () => read.promise);
    const at = new Date(7000);
    cache.recordSignIn("u1", at);
    read.resolve(live);
    expect((await inFlight)?.account.lastSignInAt).toEqual(at);
    const load = vi.fn(async () => live);
    expect((await cache.get("s", load))?.account.lastSignInAt).toEqual(at);
    expect(load).not.toHaveBeenCalled();
  });
});
