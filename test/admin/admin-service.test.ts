import { randomUUID } from "node:crypto";
import { createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AdminService } from "../../gen/helios/admin/v1/admin_pb.js";
import {
  authApi,
  expectFailure,
  expectOk,
  generousLimits,
  jwtPayload,
  protocols,
  rest,
  rpcFailure,
  rpcTransport,
  signUpUser,
  type AuthApi,
  type TestUser,
} from "../auth/support/auth-api.js";
import { backends, startTestServer, type TestServer } from "../support/server.js";
import {
  adminRest,
  bearerHeader,
  cliKey,
  http,
  keyHeader,
  ok,
  refused,
  runAdmin,
  signIn,
  type AdminRest,
  type AdminUserJson,
  type UserChangeJson,
} from "./support/admin-api.js";

describe.each(backends)("AdminService on %s storage", (backend) => {
  let server: TestServer;
  let adminKey: string;
  let admin: AdminRest;
  let api: AuthApi;

  beforeAll(async () => {
    server = await startTestServer(backend, generousLimits);
    adminKey = await cliKey(server);
    admin = adminRest(server.url, adminKey);
    api = authApi("rest", server.url);
    await Promise.all([admin.createTenant("acme"), admin.createTenant("globex")]);
  });
  afterAll(() => server?.close());

  const userIdOf = (user: TestUser) => user.session.user.id;
  const change = async (method: "POST" | "PUT" | "DELETE", path: string, body?: unknown) =>
    ok<UserChangeJson>(await admin.call(method, path, body));

  describe("access", () => {
    let user: TestUser;
    let readKey: string, publishableKey: string;
    beforeAll(async () => {
      user = await signUpUser(api, "plain");
      readKey = (await admin.createKey({ scopes: ["read", "write"] })).key;
      publishableKey = (await admin.createKey({ scopes: ["signup"] })).key;
    });

    it.each(protocols)("refuses callers without the admin scope with 403 insufficient_scope over %s", async (protocol) => {
      const callers = [bearerHeader(user.session.access_token), keyHeader(readKey), keyHeader(publishableKey)];
      for (const headers of callers) {
        if (protocol === "rest") {
          refused(await http(server.url, "GET", "/admin/v1/tenants", { headers }), 403, "insufficient_scope");
          refused(await http(server.url, "POST", "/admin/v1/keys", { headers, body: { name: "x", scopes: ["admin"] } }), 403, "insufficient_scope");
          refused(await http(server.url, "DELETE", `/admin/v1/users/${userIdOf(user)}`, { headers }), 403, "insufficient_scope");
        } else {
          const client = createClient(AdminService, rpcTransport(protocol, server.url));
          expect(await client.listTenants({}, { headers }).catch(rpcFailure)).toMatchObject({ reason: "insufficient_scope" });
          expect(await client.createApiKey({ name: "x", scopes: ["admin"] }, { headers }).catch(rpcFailure)).toMatchObject({
            reason: "insufficient_scope",
          });
        }
      }
      if (protocol === "rest") refused(await http(server.url, "GET", "/admin/v1/users"), 401, "unauthorized");
      else {
        const client = createClient(AdminService, rpcTransport(protocol, server.url));
        expect(await client.listUsers({}).catch(rpcFailure)).toMatchObject({ reason: "unauthorized" });
      }
      // Nothing happened to the user.
      expectOk(await api.getUser(user.session.access_token));
    });

    it.each(["connect", "grpc"] as const)("serves admins over %s", async (protocol) => {
      const client = createClient(AdminService, rpcTransport(protocol, server.url));
      const headers = keyHeader(adminKey);
      const id = `t-${protocol}-${randomUUID().slice(0, 8)}`;
      expect((await client.createTenant({ id }, { headers })).name).toBe(id);
      expect((await client.listTenants({}, { headers })).tenants.map((t) => t.id)).toContain(id);
      const created = await client.createApiKey({ name: "rpc", tenantId: id, scopes: ["read"] }, { headers });
      expect(created.key.startsWith(`${created.apiKey?.prefix}_`)).toBe(true);
      expect((await client.revokeApiKey({ id: created.apiKey?.id ?? "" }, { headers })).revokedAt).toBeDefined();
    });

    it("makes a user an admin with `heliosdb-nano admin grant`; the admin scope is global", async () => {
      const promoted = await signUpUser(api, "promoted");
      const granted = await runAdmin(["grant", "--email", promoted.email.toUpperCase(), "--scopes", "admin", "--database-url", server.storage.ownerUrl]);
      expect(granted.code, granted.stderr).toBe(0);
      expect(granted.stdout).toContain("scopes now read, write, admin");
      // Tokens carry scopes: the old one is not an admin's yet, a refreshed one is.
      refused(await http(server.url, "GET", "/admin/v1/tenants", { headers: bearerHeader(promoted.session.access_token) }), 403, "insufficient_scope");
      const refreshed = expectOk(await api.refresh(promoted.session.refresh_token));
      expect(jwtPayload(refreshed.access_token).scopes).toEqual(["read", "write", "admin"]);
      const headers = bearerHeader(refreshed.access_token);
      expect(ok<{ tenants: Array<{ id: string }> }>(await http(server.url, "GET", "/admin/v1/tenants", { headers })).tenants.map((t) => t.id)).toEqual(
        expect.arrayContaining(["acme", "default", "globex"]),
      );
      // An admin of tenant "default" manages tenant "globex".
      const key = ok<{ api_key: { tenant_id: string; created_by: string } }>(
        await http(server.url, "POST", "/admin/v1/keys", { headers, body: { name: "globex-reader", tenant_id: "globex", scopes: ["read"] } }),
      );
      expect(key.api_key).toMatchObject({ tenant_id: "globex", created_by: `user:${userIdOf(promoted)}` });
    });
  });

  describe("tenants and keys", () => {
    it("creates and lists tenants, refusing bad and taken ids", async () => {
      expect(ok(await admin.call("POST", "/admin/v1/tenants", { id: "initech", name: "Initech Corp" }))).toMatchObject({ id: "initech", name: "Initech Corp" });
      const tenants = ok<{ tenants: Array<{ id: string }> }>(await admin.call("GET", "/admin/v1/tenants")).tenants.map((t) => t.id);
      expect(tenants).toEqual([...tenants].sort());
      expect(tenants).toEqual(expect.arrayContaining(["acme", "default", "globex", "initech"]));
      refused(await admin.call("POST", "/admin/v1/tenants", { id: "initech" }), 409, "tenant_already_exists");
      for (const id of ["", "-x", "a b", "x".repeat(65), "ünï"]) refused(await admin.call("POST", "/admin/v1/tenants", { id }), 400, "validation_failed");
    });

    it("validates new keys", async () => {
      for (const body of [
        { scopes: [] },
        { scopes: ["root"] },
        { scopes: ["signup", "read"] },
        { scopes: ["read"], name: " " },
        { scopes: ["read"], name: "x".repeat(101) },
      ]) {
        refused(await admin.call("POST", "/admin/v1/keys", { name: "k", ...body }), 400, "validation_failed");
      }
      refused(await admin.call("POST", "/admin/v1/keys", { name: "k", scopes: ["read"], tenant_id: "no-such-tenant" }), 404, "tenant_not_found");
      const acme = await admin.createKey({ tenant_id: "acme", scopes: ["admin", "read", "read"] });
      expect(acme.api_key).toMatchObject({ tenant_id: "acme", scopes: ["read", "admin"] });
      const onlyAcme = ok<{ api_keys: Array<{ tenant_id: string }> }>(await admin.call("GET", "/admin/v1/keys?tenant_id=acme")).api_keys;
      expect(onlyAcme.length).toBeGreaterThan(0);
      expect(new Set(onlyAcme.map((k) => k.tenant_id))).toEqual(new Set(["acme"]));
    });
  });

  describe("users", () => {
    it("lists users by tenant and email, a page at a time", async () => {
      const users = await Promise.all([signUpUser(api, "list"), signUpUser(api, "list"), signUpUser(api, "list")]);
      ok(await admin.call("POST", "/admin/v1/tenants", { id: "listing" }));
      for (const u of users) await change("PUT", `/admin/v1/users/${userIdOf(u)}/tenant`, { tenant_id: "listing" });
      const seen: string[] = [];
      let token = "";
      do {
        const page = ok<{ users: AdminUserJson[]; next_page_token: string }>(
          await admin.call("GET", `/admin/v1/users?tenant_id=listing&page_size=2&page_token=${token}`),
        );
        expect(page.users.length).toBeLessThanOrEqual(2);
        seen.push(...page.users.map((u) => u.id));
        token = page.next_page_token;
      } while (token !== "");
      expect(seen).toEqual(users.map(userIdOf).sort());
      const byEmail = ok<{ users: AdminUserJson[] }>(await admin.call("GET", `/admin/v1/users?email=${encodeURIComponent(users[0]!.email.toUpperCase())}`));
      expect(byEmail.users.map((u) => u.id)).toEqual([userIdOf(users[0]!)]);
      refused(await admin.call("GET", "/admin/v1/users?page_token=garbage"), 400, "validation_failed");
    });

    it("moves a user to another tenant, ending its sessions at once", async () => {
      const user = await signUpUser(api, "mover");
      const moved = await change("PUT", `/admin/v1/users/${userIdOf(user)}/tenant`, { tenant_id: "acme" });
      expect(moved).toMatchObject({ user: { tenant_id: "acme" }, revoked_sessions: 1 });
      for (const protocol of protocols) expectFailure(await authApi(protocol, server.url).getUser(user.session.access_token), "session_revoked");
      expectFailure(await api.refresh(user.session.refresh_token), "invalid_refresh_token");
      expect(jwtPayload((await signIn(server.url, user.email, user.password)).access_token).tenant_id).toBe("acme");
      refused(await admin.call("PUT", `/admin/v1/users/${userIdOf(user)}/tenant`, { tenant_id: "nowhere" }), 404, "tenant_not_found");
    });

    it("grants scopes without ending sessions, and takes them away ending sessions at once", async () => {
      const user = await signUpUser(api, "scoped");
      const id = userIdOf(user);
      const granted = await change("POST", `/admin/v1/users/${id}/scopes/grant`, { scopes: ["admin"] });
      expect(granted).toMatchObject({ user: { scopes: ["read", "write", "admin"] }, revoked_sessions: 0 });
      expectOk(await api.getUser(user.session.access_token));

      const session = await signIn(server.url, user.email, user.password);
      const removed = await change("POST", `/admin/v1/users/${id}/scopes/remove`, { scopes: ["write"] });
      expect(removed).toMatchObject({ user: { scopes: ["read", "admin"] }, revoked_sessions: 2 });
      expectFailure(await api.getUser(session.access_token), "session_revoked");
      // Removing what the user no longer holds changes nothing and ends nothing.
      const again = await signIn(server.url, user.email, user.password);
      expect(await change("POST", `/admin/v1/users/${id}/scopes/remove`, { scopes: ["write"] })).toMatchObject({ revoked_sessions: 0 });
      expectOk(await api.getUser(again.access_token));

      expect(await change("PUT", `/admin/v1/users/${id}/scopes`, { scopes: ["read", "admin"] })).toMatchObject({ revoked_sessions: 0 });
      expect(await change("PUT", `/admin/v1/users/${id}/scopes`, { scopes: [] })).toMatchObject({ user: { scopes: [] }, revoked_sessions: 1 });
      expect(jwtPayload((await signIn(server.url, user.email, user.password)).access_token).scopes).toEqual([]);

      refused(await admin.call("POST", `/admin/v1/users/${id}/scopes/grant`, { scopes: ["signup"] }), 400, "validation_failed");
      refused(await admin.call("POST", `/admin/v1/users/${id}/scopes/grant`, { scopes: [] }), 400, "validation_failed");
    });

    it("applies concurrent scope changes to one user one after the other, losing none", async () => {
      const user = await signUpUser(api, "contended");
      const id = userIdOf(user);
      for (let round = 0; round < 10; round++) {
        await change("PUT", `/admin/v1/users/${id}/scopes`, { scopes: ["read", "write"] });
        // A grant computed from a stale read would write "write" back; a removal, drop "admin".
        await Promise.all([
          change("POST", `/admin/v1/users/${id}/scopes/grant`, { scopes: ["admin"] }),
          change("POST", `/admin/v1/users/${id}/scopes/remove`, { scopes: ["write"] }),
        ]);
        const [found] = ok<{ users: AdminUserJson[] }>(await admin.call("GET", `/admin/v1/users?email=${encodeURIComponent(user.email)}`)).users;
        expect(found?.scopes, `round ${round}`).toEqual(["read", "admin"]);
      }
    });

    it("bans a user, ending its sessions at once, and unbans it", async () => {
      const user = await signUpUser(api, "banned");
      const id = userIdOf(user);
      const banned = await change("POST", `/admin/v1/users/${id}/ban`, { duration_seconds: 3600 });
      expect(banned.revoked_sessions).toBe(1);
      expect(Date.parse(banned.user.banned_until ?? "")).toBeGreaterThan(Date.now());
      expectFailure(await api.getUser(user.session.access_token), "session_revoked");
      expectFailure(await api.token({ email: user.email, password: user.password }), "user_banned");

      expect((await change("POST", `/admin/v1/users/${id}/ban`, {})).user.banned_until).toBe("9999-12-31T23:59:59Z");
      const unbanned = await change("DELETE", `/admin/v1/users/${id}/ban`);
      expect(unbanned.user.banned_until).toBeUndefined();
      const session = await signIn(server.url, user.email, user.password);
      expectOk(await api.getUser(session.access_token));
      // The ban ended the old sessions for good.
      expectFailure(await api.getUser(user.session.access_token), "session_revoked");
    });

    it("deletes a user, ending its sessions at once", async () => {
      const user = await signUpUser(api, "deleted");
      const id = userIdOf(user);
      const deleted = await change("DELETE", `/admin/v1/users/${id}`);
      expect(deleted).toMatchObject({ user: { id, email: user.email }, revoked_sessions: 1 });
      for (const protocol of protocols) expectFailure(await authApi(protocol, server.url).getUser(user.session.access_token), "session_revoked");
      expectFailure(await api.token({ email: user.email, password: user.password }), "invalid_credentials");
      expect(ok<{ users: unknown[] }>(await admin.call("GET", `/admin/v1/users?email=${encodeURIComponent(user.email)}`)).users).toEqual([]);
      refused(await admin.call("DELETE", `/admin/v1/users/${id}`), 404, "user_not_found");
      // The address is free again.
      expectOk(await api.signUp(user.email, user.password));
    });

    it("refuses malformed and unknown user ids", async () => {
      refused(await admin.call("DELETE", "/admin/v1/users/not-a-uuid"), 400, "validation_failed");
      for (const [method, path, body] of [
        ["DELETE", "", undefined],
        ["PUT", "/tenant", { tenant_id: "acme" }],
        ["PUT", "/scopes", { scopes: ["read"] }],
        ["POST", "/scopes/grant", { scopes: ["read"] }],
        ["POST", "/ban", {}],
        ["DELETE", "/ban", undefined],
      ] as const) {
        refused(await admin.call(method, `/admin/v1/users/${randomUUID()}${path}`, body), 404, "user_not_found");
      }
    });
  });

  it("answers the guide's error shape on admin paths", async () => {
    const res = await rest(server.url, "GET", "/admin/v1/tenants");
    expect(res).toMatchObject({ status: 401, body: { error: "unauthorized", message: "Missing authorization header" } });
  });
});
