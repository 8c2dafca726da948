import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPasswordHasher } from "../../src/auth/passwords.js";
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
  strongPassword,
  uniqueEmail,
  type AuthApi,
  type TestUser,
} from "./support/auth-api.js";

describe.each(backends)("sign-in (password grant) on %s storage", (backend) => {
  let server: TestServer;
  const ledger = createSecretLedger();
  const sql = <T>(text: string, params: unknown[] = []) => server.storage.orm.em.getConnection().execute<T[]>(text, params);

  beforeAll(async () => {
    server = await startTestServer(backend, generousLimits);
  });
  afterAll(() => server?.close());

  describe.each(protocols)("over %s", (protocol) => {
    let api: AuthApi;
    let user: TestUser;
    beforeAll(async () => {
      api = authApi(protocol, server.url);
      user = await signUpUser(api, "signin");
      ledger.addUser(user);
    });

    it("signs in with grant_type omitted or \"password\", in a new session each time", async () => {
      const first = expectOk(await api.token({ email: user.email, password: user.password }));
      expect(expectOk(await api.getUser(first.access_token)).last_sign_in_at).toBe(first.user.last_sign_in_at);
      const second = expectOk(await api.token({ grant_type: "password", email: user.email.toUpperCase(), password: user.password }));
      ledger.addSession(first);
      ledger.addSession(second);
      for (const session of [first, second]) {
        expect(session).toMatchObject({ token_type: "bearer", expires_in: 3600, user: { id: user.session.user.id, email: user.email } });
      }
      expect(jwtPayload(first.access_token).session_id).not.toBe(jwtPayload(second.access_token).session_id);
      expect(jwtPayload(first.access_token).session_id).not.toBe(jwtPayload(user.session.access_token).session_id);
      expect(first.refresh_token).not.toBe(second.refresh_token);
      expect(Date.parse(second.user.last_sign_in_at ?? "")).toBeGreaterThanOrEqual(Date.parse(first.user.last_sign_in_at ?? ""));
      // Every session of the account sees the latest sign-in, including one whose state was cached before it.
      for (const session of [first, second]) {
        expect(expectOk(await api.getUser(session.access_token)).last_sign_in_at).toBe(second.user.last_sign_in_at);
      }
    });

    it("answers an unknown email and a wrong password with the same 400 invalid_credentials", async () => {
      const wrong = expectFailure(await api.token({ email: user.email, password: `${user.password}x` }), "invalid_credentials");
      const unknown = expectFailure(await api.token({ email: uniqueEmail("ghost"), password: user.password }), "invalid_credentials");
      const malformed = expectFailure(await api.token({ email: "not-an-email", password: user.password }), "invalid_credentials");
      expect(wrong.message).toBe("Invalid login credentials");
      for (const failure of [unknown, malformed]) {
        expect({ ...failure, headers: undefined }).toEqual({ ...wrong, headers: undefined });
      }
    });

    it("answers a missing email or password with 400 validation_failed", async () => {
      expectFailure(await api.token({ password: user.password }), "validation_failed");
      expectFailure(await api.token({ email: user.email }), "validation_failed");
    });

    it("answers an unknown grant_type with 400 unsupported_grant_type", async () => {
      for (const grantType of ["client_credentials", "PASSWORD", "pkce"]) {
        expectFailure(
          await api.token({ grant_type: grantType, email: user.email, password: user.password }),
          "unsupported_grant_type",
        );
      }
    });
  });

  it("runs one argon2 verify for an unknown email, as for a wrong password (no timing oracle)", async () => {
    const api = authApi("rest", server.url);
    const user = await signUpUser(api, "timing");
    ledger.addUser(user);
    // Counted by the server, not timed here: tests do not assert timings on a shared machine.
    const verifications = async () => {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      return Number(/^helios_password_verifications_total (\d+)/m.exec(text)?.[1]);
    };
    const attempt = async (email: string) => {
      const before = await verifications();
      expectFailure(await api.token({ email, password: "definitely-not-it" }), "invalid_credentials");
      return (await verifications()) - before;
    };
    expect(await attempt(user.email)).toBe(1);
    expect(await attempt(uniqueEmail("nobody"))).toBe(1);
  });

  it("re-hashes a password stored with weaker argon2 parameters on the next sign-in", async () => {
    const email = uniqueEmail("legacy");
    const password = strongPassword();
    ledger.add(password);
    const weak = await createPasswordHasher({ params: { memoryCost: 4096, timeCost: 1 } }).hash(password);
    await sql("insert into auth.users (id, email, tenant_id, password_hash) values (gen_random_uuid(), ?, 'default', ?)", [
      email,
      weak,
    ]);
    const api = authApi("rest", server.url);
    ledger.addSession(expectOk(await api.token({ email, password })));
    const [row] = await sql<{ password_hash: string }>("select password_hash from auth.users where email = ?", [email]);
    expect(row?.password_hash).not.toBe(weak);
    expect(row?.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
    ledger.addSession(expectOk(await api.token({ email, password })));
  });

  it("refuses a banned user with 403 user_banned on sign-in, refresh and every token, after the password only", async () => {
    const api = authApi("rest", server.url);
    const user = await signUpUser(api, "banned");
    ledger.addUser(user);
    await sql("update auth.users set banned_until = now() + interval '1 hour' where id = ?", [user.session.user.id]);

    expectFailure(await api.token({ email: user.email, password: user.password }), "user_banned", "User is banned");
    expectFailure(await api.token({ email: user.email, password: "wrong-password-1" }), "invalid_credentials");
    expectFailure(await api.refresh(user.session.refresh_token), "user_banned");
    // The bearer check trusts a live session for at most ~1 s.
    await expect.poll(async () => (await api.getUser(user.session.access_token)).ok, { timeout: 3000, interval: 200 }).toBe(false);
    expectFailure(await api.getUser(user.session.access_token), "user_banned");

    await sql("update auth.users set banned_until = now() - interval '1 second' where id = ?", [user.session.user.id]);
    ledger.addSession(expectOk(await api.token({ email: user.email, password: user.password })));
    ledger.addSession(expectOk(await api.refresh(user.session.refresh_token)));
  });

  /**
   * Signs `user` in while its row is held, runs `change` on the row once the sign-in (its password
   * checked) waits to record itself, commits, and resolves with the sign-in's answer.
   */
  async function signInAcross(user: TestUser, change: (holder: pg.Client) => Promise<unknown>) {
    const holder = new pg.Client({ connectionString: server.storage.ownerUrl });
    await holder.connect();
    try {
      await holder.query("begin");
      await holder.query("select 1 from auth.users where id = $1 for update", [user.session.user.id]);
      const signingIn = authApi("rest", server.url).token({ email: user.email, password: user.password });
      const waiting = "select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and query like '%with signed_in as%'";
      await expect.poll(async () => (await sql<{ n: number }>(waiting))[0]?.n, { timeout: 30_000, interval: 20 }).toBe(1);
      await change(holder);
      await holder.query("commit");
      return await signingIn;
    } finally {
      await holder.end();
    }
  }
  const sessionsOf = (userId: string) => sql<{ n: number }>("select count(*)::int as n from auth.sessions where user_id = ?", [userId]);

  it("starts no session with a password that was replaced while it was being checked", async () => {
    const api = authApi("rest", server.url);
    const user = await signUpUser(api, "replaced");
    const other = await signUpUser(api, "replacement");
    ledger.addUser(user);
    ledger.addUser(other);
    const userId = user.session.user.id;
    // The password changes (to the other account's) before the sign-in gets the row.
    const answer = await signInAcross(user, (holder) =>
      holder.query("update auth.users set password_hash = (select password_hash from auth.users where id = $2) where id = $1", [userId, other.session.user.id]),
    );
    expectFailure(answer, "invalid_credentials");
    expect(await sessionsOf(userId)).toEqual([{ n: 1 }]);
    ledger.addSession(expectOk(await api.token({ email: user.email, password: other.password })));
  });

  it("starts no session for a user banned while the password was being checked, not even one an unban would revive", async () => {
    const api = authApi("rest", server.url);
    const user = await signUpUser(api, "banned-meanwhile");
    ledger.addUser(user);
    const userId = user.session.user.id;
    const answer = await signInAcross(user, (holder) => holder.query("update auth.users set banned_until = now() + interval '1 hour' where id = $1", [userId]));
    expectFailure(answer, "user_banned");
    expect(await sessionsOf(userId)).toEqual([{ n: 1 }]);
  });

  it("never logs passwords or tokens", () => {
    ledger.expectNoneIn(server.logs());
  });
});
