import { describe, expect, it, vi } from "vitest";
import { createSessionCache } from "../../src/auth/session-cache.js";
import type { SessionState } from "../../src/auth/session-store.js";

const state = (userId: string): SessionState => ({
  live: true,
  signedInAt: new Date(0),
  bannedUntil: null,
  account: {
    id: userId,
    email: `${userId}@example.com`,
    role: "authenticated",
    tenantId: "t",
    scopes: ["read"],
    createdAt: new Date(0),
    lastSignInAt: null,
    userMetadata: {},
    appMetadata: {},
  },
});

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe("session cache invalidation", () => {
  it("forgets sessions, a user's sessions, or everything, so the next use reads storage", async () => {
    const cache = createSessionCache({ ttlMs: 60_000 });
    const load = vi.fn(async () => state("u1"));
    const other = vi.fn(async () => state("u2"));
    await cache.get("a", load);
    await cache.get("b", load);
    await cache.get("c", other);
    expect(cache.size).toBe(3);

    cache.forget(["a"]);
    await cache.get("a", load);
    await cache.get("b", load);
    expect(load).toHaveBeenCalledTimes(3);

    cache.forgetUser("u1");
    expect(cache.size).toBe(1);
    await cache.get("c", other);
    expect(other).toHaveBeenCalledTimes(1);
    await cache.get("b", load);
    expect(load).toHaveBeenCalledTimes(4);

    cache.clear();
    expect(cache.size).toBe(0);
  });

  it("does not store a read that was in flight when its entry was dropped", async () => {
    for (const drop of [
      (cache: ReturnType<typeof createSessionCache>) => cache.forget(["s"]),
      (cache: ReturnType<typeof createSessionCache>) => cache.forgetUser("u1"),
      (cache: ReturnType<typeof createSessionCache>) => cache.clear(),
    ]) {
      const cache = createSessionCache({ ttlMs: 60_000 });
      const stale = deferred<SessionState>();
      const reading = cache.get("s", () => stale.promise);
      drop(cache);
      stale.resolve(state("u1"));
      await reading;
      const fresh = vi.fn(async () => ({ ...state("u1"), live: false }));
      expect(await cache.get("s", fresh)).toMatchObject({ live: false });
      expect(fresh).toHaveBeenCalledTimes(1);
    }
  });
});
