import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, createHeliosClient, HeliosError, type HeliosClient } from "heliosdb-nano/client";
import { catalogue } from "../../src/errors/catalogue.js";
import { generousLimits, strongPassword, uniqueEmail } from "../auth/support/auth-api.js";
import { backends, startTestServer, type TestServer } from "../support/server.js";
import { promoteToAdmin, signUpAccount } from "./support/accounts.js";

const transports = ["connect", "grpc", "grpc-web"] as const;

/** Resolves the HeliosError `promise` rejects with. */
async function failure(promise: Promise<unknown>): Promise<HeliosError> {
  const error: unknown = await promise.then(
    () => expect.fail("expected the call to fail"),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HeliosError);
  return error as HeliosError;
}

describe.each(backends)("the typed client (heliosdb-nano/client) on %s storage", (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(backend, generousLimits);
    // A table shared by the tenant, made by an admin through the API.
    const admin = await promoteToAdmin(server, await signUpAccount(server, "admin"));
    const res = await fetch(`${server.url}/api/v1/query`, {
      method: "POST",
      headers: { authorization: `Bearer ${admin.session.access_token}`, "content-type": "application/json" },
      body: JSON.stringify({ sql: "CREATE TABLE notes (id serial PRIMARY KEY, tenant_id text NOT NULL, body text, meta jsonb)" }),
    });
    expect(res.status).toBe(200);
  });
  afterAll(() => server?.close());

  describe.each(transports)("over %s", (transport) => {
    const clients: HeliosClient[] = [];
    const client = (options: { session?: HeliosClient["session"] } = {}) => {
      const created = createHeliosClient({ baseUrl: server.url, transport, ...options });
      clients.push(created);
      return created;
    };
    afterAll(() => clients.forEach((c) => c.close()));

    it("signs up, signs in and describes the user with typed values", async () => {
      const email = uniqueEmail(transport);
      const password = strongPassword();
      const signedUp = await client().signUp(email, password);
      expect(signedUp).toMatchObject({
        accessToken: expect.stringMatching(/^eyJ/),
        tokenType: "bearer",
        expiresIn: 3600,
        refreshToken: expect.any(String),
        user: { email, role: "authenticated", tenantId: "default", scopes: ["read", "write"] },
      });
      expect(signedUp.expiresAt).toBeGreaterThan(Date.now() / 1000);
      expect(signedUp.user.createdAt).toBeInstanceOf(Date);

      const c = client();
      const signedIn = await c.signIn(email, password);
      expect(signedIn.user.id).toBe(signedUp.user.id);
      expect(c.session).toEqual(signedIn);
      const user = await c.getUser();
      expect(user).toMatchObject({ id: signedUp.user.id, email, tenantId: "default" });
      expect(user.lastSignInAt).toBeInstanceOf(Date);
    });

    it("runs queries with parameters and returns typed rows", async () => {
      const c = client();
      await c.signUp(uniqueEmail(transport), strongPassword());
      const inserted = await c.query("INSERT INTO notes (body, meta) VALUES ($1, $2) RETURNING id, body, meta", [
        `from ${transport}`,
        { tags: ["a", "b"], n: 1 },
      ]);
      expect(inserted).toMatchObject({ command: "INSERT", rowCount: 1, truncated: false });
      expect(inserted.columns).toEqual([
        { name: "id", type: "int4" },
        { name: "body", type: "text" },
        { name: "meta", type: "jsonb" },
      ]);
      const [row] = inserted.rows;
      expect(row).toMatchObject({ body: `from ${transport}`, meta: { tags: ["a", "b"], n: 1 } });

      const read = await c.query<{ body: string }>("SELECT body FROM notes WHERE id = $1", [row?.id ?? null], { readOnly: true });
      expect(read.rows.map((r) => r.body)).toEqual([`from ${transport}`]);
      const arrays = await c.query<[number, number]>("SELECT 1 AS a, 2 AS a", [], { arrayMode: true });
      expect(arrays.rows).toEqual([[1, 2]]);
    });

    it("exposes the catalogue reason, code and message of failures", async () => {
      const c = client();
      const badLogin = await failure(c.signIn(uniqueEmail("ghost"), strongPassword()));
      expect(badLogin).toMatchObject({ reason: "invalid_credentials", code: catalogue.invalid_credentials.code });
      expect(badLogin.message).toBe("Invalid login credentials");

      const anonymous = await failure(c.query("SELECT 1"));
      expect(anonymous).toMatchObject({ reason: "unauthorized", code: Code.Unauthenticated });

      await c.signUp(uniqueEmail(transport), strongPassword());
      const readOnly = await failure(c.query("INSERT INTO notes (body) VALUES ('x')", [], { readOnly: true }));
      expect(readOnly.reason).toBe("statement_not_allowed");
      const sql = await failure(c.query("SELECT * FROM no_such_table"));
      expect(sql).toMatchObject({ reason: "sql_error", code: Code.InvalidArgument });
      const crossTenant = await failure(c.query("SELECT 1", [], { tenantId: "elsewhere" }));
      expect(crossTenant.reason).toBe("cross_tenant_forbidden");
      const duplicate = await failure(client().signUp(c.session?.user.email ?? "", strongPassword()));
      expect(duplicate.reason).toBe("user_already_exists");
    });

    it("refreshes on demand, rotating the refresh token", async () => {
      const c = client();
      const first = await c.signUp(uniqueEmail(transport), strongPassword());
      const second = await c.refresh();
      expect(second.refreshToken).not.toBe(first.refreshToken);
      expect(second.accessToken).not.toBe(first.accessToken);
      expect(c.session).toEqual(second);
      expect((await c.getUser()).id).toBe(first.user.id);
    });

    it("signs out locally, globally and of the other sessions", async () => {
      const email = uniqueEmail(transport);
      const password = strongPassword();
      const here = client();
      await here.signUp(email, password);
      const there = client();
      await there.signIn(email, password);

      await here.signOut("others");
      expect(here.session).toBeDefined();
      expect((await here.getUser()).email).toBe(email);
      expect((await failure(there.getUser())).reason).toBe("session_revoked");

      const third = client();
      await third.signIn(email, password);
      await third.signOut("global");
      expect(third.session).toBeUndefined();
      expect((await failure(here.getUser())).reason).toBe("session_revoked");

      const fourth = client();
      const saved = await fourth.signIn(email, password);
      await fourth.signOut();
      expect(fourth.session).toBeUndefined();
      const stale = client({ session: saved });
      expect((await failure(stale.getUser())).reason).toBe("session_revoked");
    });

    it("signs up with metadata, updates the user, lists and ends sessions", async () => {
      const email = uniqueEmail(transport);
      const password = strongPassword();
      const first = client();
      const signedUp = await first.signUp(email, password, { data: { name: "Ada" } });
      expect(signedUp.user).toMatchObject({ userMetadata: { name: "Ada" }, appMetadata: {} });
      const second = client();
      await second.signIn(email, password);

      const sessions = await first.listSessions();
      expect(sessions).toHaveLength(2);
      expect(sessions.filter((s) => s.current)).toHaveLength(1);
      expect(sessions[0]?.createdAt).toBeInstanceOf(Date);

      const updated = await first.updateUser({ data: { city: "Paris" } });
      expect(updated.userMetadata).toEqual({ name: "Ada", city: "Paris" });
      expect(first.session?.user.userMetadata).toEqual({ name: "Ada", city: "Paris" });
      expect((await second.getUser()).userMetadata).toEqual({ name: "Ada", city: "Paris" });

      const next = strongPassword();
      await first.updateUser({ password: next, currentPassword: password });
      expect((await failure(second.getUser())).reason).toBe("session_revoked");
      expect((await first.listSessions()).map((s) => s.current)).toEqual([true]);
      expect((await failure(first.updateUser({ password: strongPassword(), currentPassword: password }))).reason).toBe(
        "current_password_mismatch",
      );

      const third = client();
      await third.signIn(email, next);
      const other = (await first.listSessions()).find((s) => !s.current);
      await first.endSession(other?.id ?? "");
      expect((await failure(third.getUser())).reason).toBe("session_revoked");
      expect((await failure(first.endSession(other?.id ?? ""))).reason).toBe("session_not_found");
      const own = (await first.listSessions())[0]?.id ?? "";
      await first.endSession(own);
      expect(first.session).toBeUndefined();
    });

    it("resumes a stored session and tells when the session changes", async () => {
      const stored = await client().signUp(uniqueEmail(transport), strongPassword());
      const seen: Array<string | undefined> = [];
      const c = createHeliosClient({
        baseUrl: server.url,
        transport,
        session: stored,
        onSessionChange: (session) => seen.push(session?.accessToken),
      });
      clients.push(c);
      expect((await c.getUser()).id).toBe(stored.user.id);
      const refreshed = await c.refresh();
      await c.signOut();
      expect(seen).toEqual([refreshed.accessToken, undefined]);
    });
  });
});
