import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backends, startTestServer, type TestServer } from "../support/server.js";
import {
  authApi,
  createSecretLedger,
  expectFailure,
  expectOk,
  generousLimits,
  jwtPayload,
  protocols,
  signUpUser,
  type AuthApi,
  type SessionJson,
} from "./support/auth-api.js";

/** The grace window of this suite's server, in seconds: short, so replays "outside" it are quick to reach. */
const graceSeconds = 1;

describe.each(backends)("refresh-token rotation on %s storage", (backend) => {
  let server: TestServer;
  const ledger = createSecretLedger();
  beforeAll(async () => {
    server = await startTestServer(backend, ["--refresh-grace", String(graceSeconds), ...generousLimits]);
  });
  afterAll(() => server?.close());

  describe.each(protocols)("over %s", (protocol) => {
    let api: AuthApi;
    beforeAll(() => {
      api = authApi(protocol, server.url);
    });

    /** A fresh user's first session. */
    async function freshSession(): Promise<SessionJson> {
      const user = await signUpUser(api, "refresh");
      ledger.addUser(user);
      return user.session;
    }

    function keep(session: SessionJson): SessionJson {
      ledger.addSession(session);
      return session;
    }

    it("rotates through Refresh and through Token with grant_type=refresh_token, keeping the session", async () => {
      const first = await freshSession();
      const second = keep(expectOk(await api.refresh(first.refresh_token)));
      const third = keep(expectOk(await api.token({ grant_type: "refresh_token", refresh_token: second.refresh_token })));
      // The guide's form: grant_type in the query string.
      const fourth = keep(
        expectOk(await api.token({ grant_type: protocol === "rest" ? undefined : "refresh_token", refresh_token: third.refresh_token }, "grant_type=refresh_token")),
      );
      const tokens = [first, second, third, fourth].map((s) => s.refresh_token);
      expect(new Set(tokens).size).toBe(4);
      for (const session of [second, third, fourth]) {
        expect(session).toMatchObject({ token_type: "bearer", expires_in: 3600, user: first.user });
        expect(jwtPayload(session.access_token).session_id).toBe(jwtPayload(first.access_token).session_id);
        expect(session.refresh_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
        expectOk(await api.getUser(session.access_token));
      }
    });

    it("answers a replay of the parent inside the grace window with the current session (same refresh token)", async () => {
      const first = await freshSession();
      const second = keep(expectOk(await api.refresh(first.refresh_token)));
      const replay = keep(expectOk(await api.refresh(first.refresh_token)));
      expect(replay.refresh_token).toBe(second.refresh_token);
      expect(replay.user).toEqual(second.user);
      expectOk(await api.getUser(replay.access_token));
      // The live token is still single-use: it rotates once more, and the chain goes on.
      const third = keep(expectOk(await api.refresh(second.refresh_token)));
      expect(third.refresh_token).not.toBe(second.refresh_token);
      expectOk(await api.getUser(third.access_token));
    });

    it("treats a replay outside the grace window as theft: 401 refresh_token_reused and the session dies", async () => {
      const first = await freshSession();
      const second = keep(expectOk(await api.refresh(first.refresh_token)));
      await sleep(graceSeconds * 1000 + 150);
      expectFailure(
        await api.refresh(first.refresh_token),
        "refresh_token_reused",
        "Refresh token was already used; the session has been revoked",
      );
      // Everything of the session is dead at once: its live refresh token and its access tokens.
      expectFailure(await api.refresh(second.refresh_token), "invalid_refresh_token");
      expectFailure(await api.getUser(second.access_token), "session_revoked");
      expectFailure(await api.getUser(first.access_token), "session_revoked");
      expectFailure(await api.refresh(first.refresh_token), "invalid_refresh_token");
    });

    it("treats a replay of an older ancestor as theft even inside the grace window", async () => {
      const first = await freshSession();
      const second = keep(expectOk(await api.refresh(first.refresh_token)));
      keep(expectOk(await api.refresh(second.refresh_token)));
      expectFailure(await api.refresh(first.refresh_token), "refresh_token_reused");
      expectFailure(await api.getUser(second.access_token), "session_revoked");
    });

    it("answers unknown and malformed refresh tokens with 401 invalid_refresh_token, a missing one with 400", async () => {
      for (const token of [randomBytes(32).toString("base64url"), "abc", "x".repeat(5000), `${randomBytes(32).toString("base64url")}=`]) {
        expectFailure(await api.refresh(token), "invalid_refresh_token", "Refresh token is invalid or expired");
        expectFailure(await api.token({ grant_type: "refresh_token", refresh_token: token }), "invalid_refresh_token");
      }
      expectFailure(await api.refresh(""), "validation_failed");
    });

    it("does not let a sign-in's refresh token touch another session", async () => {
      const a = await freshSession();
      const b = await freshSession();
      const next = keep(expectOk(await api.refresh(a.refresh_token)));
      expect(next.user.id).toBe(a.user.id);
      expectOk(await api.getUser(b.access_token));
      keep(expectOk(await api.refresh(b.refresh_token)));
    });
  });

  it("stores refresh tokens only as hashes", async () => {
    const api = authApi("rest", server.url);
    const user = await signUpUser(api, "stored");
    ledger.addUser(user);
    const next = expectOk(await api.refresh(user.session.refresh_token));
    ledger.addSession(next);
    const rows = await server.storage.orm.em
      .getConnection()
      .execute<Array<{ dump: string }>>("select row_to_json(t)::text as dump from auth.refresh_tokens t");
    const dump = rows.map((r) => r.dump).join("\n");
    for (const token of [user.session.refresh_token, next.refresh_token]) {
      expect(dump).not.toContain(token);
      expect(dump).not.toContain(Buffer.from(token, "base64url").toString("hex"));
    }
  });

  it("never logs passwords or tokens", () => {
    expect(server.logs()).toContain("refresh token reused");
    ledger.expectNoneIn(server.logs());
  });
});

describe.each(backends)("concurrent refreshes on %s storage (default grace window)", (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(backend, generousLimits);
  });
  afterAll(() => server?.close());

  it("answers 20 concurrent refreshes of one token with one and the same new token, leaving one live token", async () => {
    const api = authApi("rest", server.url);
    const user = await signUpUser(api, "tabs");
    const results = await Promise.all(Array.from({ length: 20 }, () => api.refresh(user.session.refresh_token)));
    const sessions = results.map(expectOk);
    const issued = new Set(sessions.map((s) => s.refresh_token));
    expect(issued.size).toBe(1);
    for (const session of sessions) expectOk(await api.getUser(session.access_token));

    const sessionId = jwtPayload(user.session.access_token).session_id;
    const live = await server.storage.orm.em
      .getConnection()
      .execute<Array<{ n: string }>>(
        "select count(*) as n from auth.refresh_tokens where session_id = ? and used_at is null and not revoked",
        [sessionId],
      );
    expect(Number(live[0]?.n)).toBe(1);

    // Concurrent rotations of the new token over every protocol: again a single successor.
    const [next] = issued;
    const again = await Promise.all(
      protocols.flatMap((protocol) => Array.from({ length: 4 }, () => authApi(protocol, server.url).refresh(next ?? ""))),
    );
    expect(new Set(again.map((r) => expectOk(r).refresh_token)).size).toBe(1);
  });
});
