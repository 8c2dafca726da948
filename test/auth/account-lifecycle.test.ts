import { AuthClient } from "@supabase/auth-js";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearerHeader, cliKey, http, keyHeader, ok, refused } from "../admin/support/admin-api.js";
import { backends, startTestServer, type TestServer } from "../support/server.js";
import { createSecretLedger, generousLimits, rest, strongPassword, uniqueEmail, type SessionJson, type UserJson } from "./support/auth-api.js";

/** auth-js as an app sets it up, with its in-memory session storage. */
const authClient = (server: TestServer) =>
  new AuthClient({ url: `${server.url}/auth/v1`, autoRefreshToken: false, persistSession: true, detectSessionInUrl: false });
type Client = ReturnType<typeof authClient>;

/** Every password and token of the suite, none of which may appear in the servers' logs. */
const ledger = createSecretLedger();
const newPassword = () => {
  const password = strongPassword();
  ledger.add(password);
  return password;
};

/** An account signed in from `count` separate clients (sessions); the first one signed it up. */
async function accountWithSessions(server: TestServer, count: number, data?: object) {
  const email = uniqueEmail("lifecycle");
  const password = newPassword();
  const clients = [authClient(server)];
  const signedUp = await clients[0]?.signUp({ email, password, options: data ? { data } : {} });
  expect(signedUp?.error).toBeNull();
  for (let i = 1; i < count; i++) {
    const client = authClient(server);
    expect((await client.signInWithPassword({ email, password })).error).toBeNull();
    clients.push(client);
  }
  const tokens = await Promise.all(clients.map(async (client) => (await client.getSession()).data.session as unknown as SessionJson));
  for (const session of tokens) ledger.addSession(session);
  return { email, password, clients, sessions: tokens };
}

const signIn = (server: TestServer, email: string, password: string) => rest(server.url, "POST", "/auth/v1/token", { body: { email, password } });

const passwordHashOf = async (server: TestServer, email: string): Promise<string> => {
  const rows = await server.storage.orm.em.getConnection().execute<Array<{ password_hash: string }>>(
    "select password_hash from auth.users where email = ?",
    [email],
  );
  return rows[0]?.password_hash ?? "";
};

/**
 * Runs `act` while PostgreSQL refuses to end sessions of `userId` (a trigger that raises on their
 * update): a storage fault in the middle of a change, to show what the change leaves behind.
 */
async function whileSessionsCannotEnd<T>(server: TestServer, userId: string, act: () => Promise<T>): Promise<T> {
  const db = server.storage.orm.em.getConnection();
  const name = `refuse_revocation_${userId.replaceAll("-", "")}`;
  await db.execute(`create function auth.${name}() returns trigger language plpgsql as $$ begin raise exception 'sessions cannot end now'; end $$`);
  await db.execute(`create trigger ${name} before update on auth.sessions for each row when (old.user_id = '${userId}') execute function auth.${name}()`);
  try {
    return await act();
  } finally {
    await db.execute(`drop trigger ${name} on auth.sessions`);
    await db.execute(`drop function auth.${name}()`);
  }
}

describe.each(backends)("account lifecycle on %s storage", (backend) => {
  let server: TestServer;
  let adminKey: string;
  beforeAll(async () => {
    server = await startTestServer(backend, generousLimits);
    adminKey = await cliKey(server);
  });
  afterAll(() => server?.close());

  describe("password change (PUT /auth/v1/user)", () => {
    it("auth-js updateUser({password}) switches passwords, ends every other session at once and keeps the caller's", async () => {
      const { email, password, clients, sessions } = await accountWithSessions(server, 3);
      const [caller, ...others] = clients as [Client, ...Client[]];
      const changed = newPassword();
      const { data, error } = await caller.updateUser({ password: changed });
      expect(error).toBeNull();
      expect(data.user?.email).toBe(email);

      for (const session of sessions.slice(1)) {
        refused(await rest(server.url, "GET", "/auth/v1/user", { headers: bearerHeader(session.access_token) }), 401, "session_revoked");
        refused(await rest(server.url, "POST", "/auth/v1/refresh", { body: { refresh_token: session.refresh_token } }), 401, "invalid_refresh_token");
      }
      for (const other of others) expect((await other.getUser()).error?.code).toBe("session_revoked");
      expect((await caller.getUser()).data.user?.email).toBe(email);
      expect((await caller.refreshSession()).error).toBeNull();

      refused(await signIn(server, email, password), 400, "invalid_credentials");
      ok(await signIn(server, email, changed));
    });

    it("keeps the old password and every session when the other sessions cannot be ended", async () => {
      const { email, password, sessions } = await accountWithSessions(server, 2);
      const [caller, other] = sessions as [SessionJson, SessionJson];
      const before = await passwordHashOf(server, email);
      const response = await whileSessionsCannotEnd(server, caller.user.id, () =>
        http(server.url, "PUT", "/auth/v1/user", { headers: bearerHeader(caller.access_token), body: { password: newPassword() } }),
      );
      expect(response.status).toBe(500);
      expect(await passwordHashOf(server, email)).toBe(before);
      ok(await signIn(server, email, password));
      ok(await rest(server.url, "GET", "/auth/v1/user", { headers: bearerHeader(other.access_token) }));
    });

    it("applies the sign-up password policy, changing nothing on refusal", async () => {
      const { email, password, clients } = await accountWithSessions(server, 1);
      const before = await passwordHashOf(server, email);
      const { error } = await (clients[0] as Client).updateUser({ password: "password" });
      expect(error).toMatchObject({ status: 422, code: "weak_password" });
      expect(await passwordHashOf(server, email)).toBe(before);
      ok(await signIn(server, email, password));
    });

    it("takes a current password and refuses a wrong one", async () => {
      const { email, password, sessions } = await accountWithSessions(server, 1);
      const token = sessions[0]?.access_token as string;
      const put = (body: unknown) => http(server.url, "PUT", "/auth/v1/user", { headers: bearerHeader(token), body });
      const before = await passwordHashOf(server, email);
      refused(await put({ password: newPassword(), current_password: "not-the-password" }), 400, "current_password_mismatch");
      refused(await put({ current_password: password }), 400, "validation_failed");
      expect(await passwordHashOf(server, email)).toBe(before);
      const next = newPassword();
      ok(await put({ password: next, current_password: password }));
      ok(await signIn(server, email, next));
    });

    it("refuses changes without credentials or with an API key", async () => {
      refused(await http(server.url, "PUT", "/auth/v1/user", { body: { password: newPassword() } }), 401, "unauthorized");
      refused(await http(server.url, "PUT", "/auth/v1/user", { headers: keyHeader(adminKey), body: { data: { a: 1 } } }), 403, "insufficient_scope");
    });
  });

  describe("user_metadata", () => {
    it("round-trips through auth-js signUp(options.data), getUser, the token response and the access token", async () => {
      const data = { name: "Ada", plan: { tier: 2, tags: ["beta"] }, newsletter: false };
      const { clients, sessions } = await accountWithSessions(server, 1, data);
      const auth = clients[0] as Client;
      const session = sessions[0] as SessionJson;
      expect(session.user).toMatchObject({ user_metadata: data, app_metadata: {} });
      expect(decodeJwt(session.access_token)).toMatchObject({ user_metadata: data, app_metadata: {} });
      expect((await auth.getUser()).data.user?.user_metadata).toEqual(data);

      // GoTrue's merge: keys set, null removes one.
      const updated = await auth.updateUser({ data: { name: "Grace", plan: null, city: "Paris" } });
      expect(updated.error).toBeNull();
      const merged = { name: "Grace", newsletter: false, city: "Paris" };
      expect(updated.data.user?.user_metadata).toEqual(merged);
      expect((await auth.getUser()).data.user?.user_metadata).toEqual(merged);
      const refreshed = await auth.refreshSession();
      expect(decodeJwt(refreshed.data.session?.access_token ?? "")).toMatchObject({ user_metadata: merged });
    });

    it('keeps a key "__proto__" as data through the merge, storage and every answer', async () => {
      const { sessions } = await accountWithSessions(server, 1, { a: 1 });
      const token = (sessions[0] as SessionJson).access_token;
      const withProto = '{"data":{"__proto__":{"admin":true},"b":2}}';
      const response = await fetch(`${server.url}/auth/v1/user`, {
        method: "PUT",
        headers: { ...bearerHeader(token), "content-type": "application/json" },
        body: withProto,
      });
      expect(response.status).toBe(200);
      // As entries: an object literal would read "__proto__" as its prototype; jsonb orders the keys.
      const entriesOf = (json: string) => Object.entries((JSON.parse(json) as UserJson).user_metadata).sort(([a], [b]) => a.localeCompare(b));
      const expected = [["__proto__", { admin: true }], ["a", 1], ["b", 2]];
      expect(entriesOf(await response.text())).toEqual(expected);
      const read = await fetch(`${server.url}/auth/v1/user`, { headers: bearerHeader(token) });
      expect(entriesOf(await read.text())).toEqual(expected);
    });

    it("refuses metadata that is not an object or too large, changing nothing", async () => {
      const { sessions } = await accountWithSessions(server, 1, { keep: "me" });
      const token = (sessions[0] as SessionJson).access_token;
      const put = (body: unknown) => http(server.url, "PUT", "/auth/v1/user", { headers: bearerHeader(token), body });
      for (const data of [["a"], "text", 42, true]) {
        const res = await put({ data });
        refused(res, 400, "validation_failed");
        expect(res.body).toMatchObject({ message: "data must be a JSON object", field: "data" });
      }
      const large = await put({ data: { blob: "x".repeat(3000) } });
      refused(large, 400, "validation_failed");
      expect(large.body).toMatchObject({ message: expect.stringContaining("2048"), field: "data", limit: "2048" });
      // Over the cap only once merged with what is stored.
      ok(await put({ data: { half: "y".repeat(1200) } }));
      refused(await put({ data: { other: "z".repeat(1200) } }), 400, "validation_failed");
      const me = ok<UserJson & { user_metadata: Record<string, unknown> }>(await rest(server.url, "GET", "/auth/v1/user", { headers: bearerHeader(token) }));
      expect(Object.keys(me.user_metadata).sort()).toEqual(["half", "keep"]);

      const signUp = (body: unknown) => rest(server.url, "POST", "/auth/v1/signup", { body });
      const email = uniqueEmail("bad-meta");
      refused(await signUp({ email, password: newPassword(), data: ["x"] }), 400, "validation_failed");
      refused(await signUp({ email, password: newPassword(), data: { blob: "x".repeat(3000) } }), 400, "validation_failed");
      // Nothing was created: the address is still free.
      ok(await signUp({ email, password: newPassword() }));
    });
  });

  describe("sessions (GET /auth/v1/sessions, DELETE /auth/v1/sessions/{id})", () => {
    it("lists the caller's live sessions with their user agents and ends one", async () => {
      const { sessions } = await accountWithSessions(server, 2);
      const [first, second] = sessions as [SessionJson, SessionJson];
      const list = ok<{ sessions: Array<{ id: string; current: boolean; user_agent: string; ip: string; created_at: string }> }>(
        await rest(server.url, "GET", "/auth/v1/sessions", { headers: bearerHeader(first.access_token) }),
      );
      expect(list.sessions).toHaveLength(2);
      expect(list.sessions.filter((s) => s.current)).toHaveLength(1);
      for (const session of list.sessions) {
        expect(session.user_agent).not.toBe("");
        expect(session.ip).toMatch(/127\.0\.0\.1/);
        expect(Date.parse(session.created_at)).toBeGreaterThan(Date.now() - 60_000);
      }
      const secondId = decodeJwt(second.access_token).session_id as string;
      const other = list.sessions.find((s) => !s.current);
      expect(other?.id).toBe(secondId);

      const end = (id: string, token = first.access_token) => http(server.url, "DELETE", `/auth/v1/sessions/${id}`, { headers: bearerHeader(token) });
      expect((await end(secondId)).status).toBe(204);
      refused(await rest(server.url, "GET", "/auth/v1/user", { headers: bearerHeader(second.access_token) }), 401, "session_revoked");
      refused(await end(secondId), 404, "session_not_found");
      refused(await end("not-a-uuid"), 404, "session_not_found");
      const after = ok<{ sessions: unknown[] }>(await rest(server.url, "GET", "/auth/v1/sessions", { headers: bearerHeader(first.access_token) }));
      expect(after.sessions).toHaveLength(1);
    });

    it("cannot end another user's session", async () => {
      const mine = await accountWithSessions(server, 1);
      const theirs = await accountWithSessions(server, 1);
      const theirToken = (theirs.sessions[0] as SessionJson).access_token;
      const theirId = decodeJwt(theirToken).session_id as string;
      refused(
        await http(server.url, "DELETE", `/auth/v1/sessions/${theirId}`, { headers: bearerHeader((mine.sessions[0] as SessionJson).access_token) }),
        404,
        "session_not_found",
      );
      ok(await rest(server.url, "GET", "/auth/v1/user", { headers: bearerHeader(theirToken) }));
    });
  });

  describe("AdminService", () => {
    const admin = (method: "GET" | "POST" | "PUT" | "DELETE", path: string, body?: unknown) =>
      http(server.url, method, path, { headers: keyHeader(adminKey), body });

    it("lists and ends a user's sessions, one or all", async () => {
      const { sessions } = await accountWithSessions(server, 3);
      const userId = (sessions[0] as SessionJson).user.id;
      const listed = ok<{ sessions: Array<{ id: string; user_agent: string }> }>(await admin("GET", `/admin/v1/users/${userId}/sessions`));
      expect(listed.sessions).toHaveLength(3);
      const one = decodeJwt((sessions[0] as SessionJson).access_token).session_id as string;
      expect(ok<{ revoked_sessions: number }>(await admin("DELETE", `/admin/v1/users/${userId}/sessions/${one}`)).revoked_sessions).toBe(1);
      refused(await rest(server.url, "GET", "/auth/v1/user", { headers: bearerHeader((sessions[0] as SessionJson).access_token) }), 401, "session_revoked");
      refused(await admin("DELETE", `/admin/v1/users/${userId}/sessions/${one}`), 404, "session_not_found");
      expect(ok<{ revoked_sessions: number }>(await admin("DELETE", `/admin/v1/users/${userId}/sessions`)).revoked_sessions).toBe(2);
      expect(ok<{ sessions: unknown[] }>(await admin("GET", `/admin/v1/users/${userId}/sessions`)).sessions).toEqual([]);
      refused(await admin("GET", "/admin/v1/users/00000000-0000-4000-8000-000000000000/sessions"), 404, "user_not_found");
    });

    it("sets a user's password, ending every session, under the sign-up policy", async () => {
      const { email, password, sessions } = await accountWithSessions(server, 2);
      const userId = (sessions[0] as SessionJson).user.id;
      refused(await admin("PUT", `/admin/v1/users/${userId}/password`, { password: "password" }), 422, "weak_password");
      ok(await signIn(server, email, password));
      const next = newPassword();
      expect(ok<{ revoked_sessions: number }>(await admin("PUT", `/admin/v1/users/${userId}/password`, { password: next })).revoked_sessions).toBe(3);
      for (const session of sessions) {
        refused(await rest(server.url, "GET", "/auth/v1/user", { headers: bearerHeader(session.access_token) }), 401, "session_revoked");
      }
      refused(await signIn(server, email, password), 400, "invalid_credentials");
      ok(await signIn(server, email, next));
    });

    it("changes neither password nor ban when the user's sessions cannot be ended", async () => {
      const { email, password, sessions } = await accountWithSessions(server, 1);
      const session = sessions[0] as SessionJson;
      const before = await passwordHashOf(server, email);
      await whileSessionsCannotEnd(server, session.user.id, async () => {
        expect((await admin("PUT", `/admin/v1/users/${session.user.id}/password`, { password: newPassword() })).status).toBe(500);
        expect((await admin("POST", `/admin/v1/users/${session.user.id}/ban`, { duration_seconds: 0 })).status).toBe(500);
      });
      expect(await passwordHashOf(server, email)).toBe(before);
      ok(await signIn(server, email, password));
      ok(await rest(server.url, "GET", "/auth/v1/user", { headers: bearerHeader(session.access_token) }));
    });

    it("sets app_metadata, which users read but cannot write, and tokens carry from the next refresh", async () => {
      const { clients, sessions } = await accountWithSessions(server, 1);
      const auth = clients[0] as Client;
      const userId = (sessions[0] as SessionJson).user.id;
      const appMetadata = { plan: "enterprise", roles: ["billing"] };
      expect(ok<{ user: { app_metadata: unknown } }>(await admin("PUT", `/admin/v1/users/${userId}/app_metadata`, { app_metadata: appMetadata })).user.app_metadata).toEqual(appMetadata);
      expect((await auth.getUser()).data.user?.app_metadata).toEqual(appMetadata);
      const refreshed = await auth.refreshSession();
      expect(decodeJwt(refreshed.data.session?.access_token ?? "")).toMatchObject({ app_metadata: appMetadata });

      refused(await admin("PUT", `/admin/v1/users/${userId}/app_metadata`, { app_metadata: { blob: "x".repeat(3000) } }), 400, "validation_failed");
      refused(await admin("PUT", `/admin/v1/users/${userId}/app_metadata`, { app_metadata: [1] }), 400, "validation_failed");
      // A user cannot set it: it is not a field of UpdateUser.
      const token = refreshed.data.session?.access_token ?? "";
      refused(await http(server.url, "PUT", "/auth/v1/user", { headers: bearerHeader(token), body: { app_metadata: { plan: "free" } } }), 400, "validation_failed");
      refused(await http(server.url, "PUT", `/admin/v1/users/${userId}/app_metadata`, { headers: bearerHeader(token), body: { app_metadata: {} } }), 403, "insufficient_scope");
      expect((await auth.getUser()).data.user?.app_metadata).toEqual(appMetadata);
    });
  });

  it("never logs passwords or tokens", () => {
    ledger.expectNoneIn(server.logs());
  });
});

describe.each(backends)("reauthentication and rate limits of a password change on %s storage", (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(backend, ["--reauth-window", "0", "--signin-rate-limit", "4", "--signup-rate-limit", "1000"]);
  });
  afterAll(() => server?.close());

  it("needs the current password outside the window; wrong ones are refused and rate-limited like sign-ins", async () => {
    const { email, password, clients } = await accountWithSessions(server, 1);
    const auth = clients[0] as Client;
    const before = await passwordHashOf(server, email);
    const without = await auth.updateUser({ password: newPassword() });
    expect(without.error).toMatchObject({ status: 400, code: "current_password_required" });

    // Four attempts per window, as for sign-ins of the account; the right password does not jump the queue.
    const codes: Array<string | undefined> = [];
    for (let i = 0; i < 4; i++) {
      codes.push((await auth.updateUser({ password: newPassword(), current_password: `wrong-${i}-password` })).error?.code);
    }
    expect(codes).toEqual(Array.from({ length: 4 }, () => "current_password_mismatch"));
    const limited = await auth.updateUser({ password: newPassword(), current_password: password });
    expect(limited.error).toMatchObject({ status: 429, code: "over_request_rate_limit" });
    // Sign-ins of the account share the budget.
    refused(await signIn(server, email, password), 429, "over_request_rate_limit");
    expect(await passwordHashOf(server, email)).toBe(before);
    ledger.expectNoneIn(server.logs());
  });
});
