import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { HeliosError, type HeliosSession } from "heliosdb-nano/client";
import { createSessionKeeper } from "../../src/client/session-keeper.js";

/** A session issued at `nowMs` on a server whose clock is `skewMs` ahead, living `expiresIn` seconds. */
function session(n: number, nowMs: number, expiresIn = 100, skewMs = 0): HeliosSession {
  return {
    accessToken: `access-${n}`,
    refreshToken: `refresh-${n}`,
    tokenType: "bearer",
    expiresIn,
    expiresAt: Math.floor((nowMs + skewMs) / 1000) + expiresIn,
    user: { id: "u", email: "u@example.com", role: "authenticated", tenantId: "t", scopes: ["read"], createdAt: undefined, lastSignInAt: undefined, userMetadata: {}, appMetadata: {} },
  };
}

/** A keeper on a fake clock whose refresh resolves when the test says so. */
function setup(options: { refreshMargin?: number; skewMs?: number } = {}) {
  let clock = 1_000_000;
  let issued = 0;
  const pending: Array<{ token: string; resolve(s: HeliosSession): void; reject(e: unknown): void }> = [];
  const changes: Array<HeliosSession | undefined> = [];
  const keeper = createSessionKeeper({
    refreshMargin: options.refreshMargin,
    now: () => clock,
    onSessionChange: (s) => changes.push(s),
    refresh: (token) => new Promise((resolve, reject) => pending.push({ token, resolve, reject })),
  });
  return {
    keeper,
    pending,
    changes,
    advance: (ms: number) => (clock += ms),
    issue: () => session(++issued, clock, 100, options.skewMs ?? 0),
  };
}

describe("the client's session keeper", () => {
  it("uses the token as is until less than the margin of its lifetime remains", async () => {
    const t = setup();
    t.keeper.set(t.issue(), "server");
    t.advance(89_000);
    expect(await t.keeper.freshToken()).toBe("access-1");
    expect(t.pending).toHaveLength(0);
    t.advance(2_000); // 9 s of 100 left: under 10 %
    const token = t.keeper.freshToken();
    expect(t.pending).toHaveLength(1);
    t.pending[0]?.resolve(t.issue());
    expect(await token).toBe("access-2");
  });

  it("never runs two refreshes at once: concurrent callers share one", async () => {
    const t = setup();
    t.keeper.set(t.issue(), "server");
    t.advance(95_000);
    const calls = [t.keeper.freshToken(), t.keeper.freshToken(), t.keeper.refresh(), t.keeper.renew("access-1")];
    expect(t.pending).toHaveLength(1);
    expect(t.pending[0]?.token).toBe("refresh-1");
    t.pending[0]?.resolve(t.issue());
    const [a, b, c, d] = await Promise.all(calls);
    expect([a, b, (c as HeliosSession).accessToken, d]).toEqual(["access-2", "access-2", "access-2", "access-2"]);
    // Settled: the next refresh is a new one.
    void t.keeper.refresh();
    expect(t.pending).toHaveLength(2);
  });

  it("does not refresh again for a token another call already replaced", async () => {
    const t = setup();
    t.keeper.set(t.issue(), "server");
    const first = t.keeper.renew("access-1");
    t.pending[0]?.resolve(t.issue());
    expect(await first).toBe("access-2");
    expect(await t.keeper.renew("access-1")).toBe("access-2");
    expect(t.pending).toHaveLength(1);
  });

  it("trusts expires_at within the one second that whole-second exp leaves open", async () => {
    const t = setup();
    t.advance(900); // issued 0.9 s into a second: exp is 99.1 s away, not 100
    t.keeper.set(t.issue(), "server");
    t.advance(89_500); // 9.6 s left by expires_at; 10.5 s by expires_in alone
    void t.keeper.freshToken();
    expect(t.pending).toHaveLength(1);
  });

  it("ignores expires_at from a server clock far off, and goes by expires_in", async () => {
    const ahead = setup({ skewMs: 3_600_000 });
    ahead.keeper.set(ahead.issue(), "server");
    ahead.advance(80_000);
    expect(await ahead.keeper.freshToken()).toBe("access-1");
    const behind = setup({ skewMs: -3_600_000 });
    behind.keeper.set(behind.issue(), "server");
    expect(await behind.keeper.freshToken()).toBe("access-1");
    expect(behind.pending).toHaveLength(0);
  });

  it("refreshes only on demand with a margin of 0", async () => {
    const t = setup({ refreshMargin: 0 });
    t.keeper.set(t.issue(), "server");
    t.advance(200_000);
    expect(await t.keeper.freshToken()).toBe("access-1");
    expect(t.pending).toHaveLength(0);
  });

  it("keeps a still valid token when an early refresh fails, and forgets a session the server ended", async () => {
    const t = setup();
    t.keeper.set(t.issue(), "server");
    t.advance(95_000);
    const early = t.keeper.freshToken();
    t.pending[0]?.reject(new HeliosError("unknown", Code.Unavailable, "offline"));
    expect(await early).toBe("access-1");

    const ended = t.keeper.refresh();
    t.pending[1]?.reject(new HeliosError("refresh_token_reused", Code.Unauthenticated, "reused"));
    await expect(ended).rejects.toMatchObject({ reason: "refresh_token_reused" });
    expect(t.keeper.current()).toBeUndefined();
    expect(t.changes.at(-1)).toBeUndefined();
  });

  it("lets a sign-in during a refresh win over the refresh's result", async () => {
    const t = setup();
    t.keeper.set(t.issue(), "server");
    const refreshing = t.keeper.refresh();
    const signedIn = t.issue();
    t.keeper.set(signedIn, "server");
    t.pending[0]?.resolve(t.issue());
    await refreshing;
    expect(t.keeper.current()).toBe(signedIn);
  });

  it("goes by expires_at for a restored session, and does not report it as a change", async () => {
    const t = setup();
    const restored = t.issue();
    t.keeper.set(restored, "restored");
    expect(t.changes).toEqual([]);
    t.advance(95_000);
    void t.keeper.freshToken();
    expect(t.pending).toHaveLength(1);
  });
});
