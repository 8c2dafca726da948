import { createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthService } from "../../gen/helios/auth/v1/auth_pb.js";
import {
  generousLimits,
  jwtPayload,
  rpcTransport,
  strongPassword,
  uniqueEmail,
  type SessionJson,
} from "../auth/support/auth-api.js";
import { backends, startTestServer, type TestServer } from "../support/server.js";
import { adminRest, bearerHeader, cliKey, http, keyHeader, ok, refused, signUpWith, type AdminRest } from "./support/admin-api.js";

type Headers = Record<string, string>;

describe.each(backends)("tenant-bound sign-up and tenancy on %s storage", (backend) => {
  let server: TestServer;
  let adminKey: string;
  let admin: AdminRest;
  const publishable: Record<"acme" | "globex", string> = { acme: "", globex: "" };

  const query = (sql: string, headers: Headers) => http(server.url, "POST", "/api/v1/query", { body: { sql }, headers });
  const rows = async (sql: string, headers: Headers) => ok<{ rows: unknown[] }>(await query(sql, headers)).rows;

  /** Signs a fresh user up with `headers` and returns the session. */
  async function member(headers: Headers): Promise<SessionJson> {
    return ok<SessionJson>(await signUpWith(server.url, uniqueEmail("member"), strongPassword(), headers));
  }

  beforeAll(async () => {
    server = await startTestServer(backend, [...generousLimits, "--default-tenant", "lobby"]);
    adminKey = await cliKey(server);
    admin = adminRest(server.url, adminKey);
    await Promise.all([admin.createTenant("acme"), admin.createTenant("globex")]);
    publishable.acme = (await admin.createKey({ name: "acme web", tenant_id: "acme", scopes: ["signup"] })).key;
    publishable.globex = (await admin.createKey({ name: "globex web", tenant_id: "globex", scopes: ["signup"] })).key;
    ok(await query("CREATE TABLE orders (id serial PRIMARY KEY, tenant_id text NOT NULL, item text)", keyHeader(adminKey)));
    for (const [tenant, item] of [["acme", "anvil"], ["acme", "rocket"], ["globex", "widget"]]) {
      ok(await query(`INSERT INTO orders (item) VALUES ('${item}')`, { ...keyHeader(adminKey), "x-tenant-id": tenant! }));
    }
  });
  afterAll(() => server?.close());

  it("signs users up into the publishable key's tenant, however the key is sent", async () => {
    for (const headers of [
      { apikey: publishable.acme },
      keyHeader(publishable.acme),
      // supabase-js: the key as bearer and as apikey.
      { ...bearerHeader(publishable.acme), apikey: publishable.acme },
    ]) {
      const session = await member(headers);
      expect(session.user.tenant_id).toBe("acme");
      expect(jwtPayload(session.access_token).tenant_id).toBe("acme");
    }
    expect((await member({ apikey: publishable.globex })).user.tenant_id).toBe("globex");
  });

  it.each(["connect", "grpc"] as const)("signs users up into the key's tenant over %s", async (protocol) => {
    const client = createClient(AuthService, rpcTransport(protocol, server.url));
    const session = await client.signUp({ email: uniqueEmail(protocol), password: strongPassword() }, { headers: { apikey: publishable.globex } });
    expect(session.user?.tenantId).toBe("globex");
  });

  it("signs users up without a key into the default tenant", async () => {
    expect((await member({})).user.tenant_id).toBe("lobby");
  });

  it("lets users of a key's tenant see and write only that tenant's rows", async () => {
    const acme = bearerHeader((await member({ apikey: publishable.acme })).access_token);
    const globex = bearerHeader((await member({ apikey: publishable.globex })).access_token);
    expect(await rows("SELECT item, tenant_id FROM orders ORDER BY item", acme)).toEqual([
      { item: "anvil", tenant_id: "acme" },
      { item: "rocket", tenant_id: "acme" },
    ]);
    ok(await query("INSERT INTO orders (item) VALUES ('gizmo')", globex));
    expect(await rows("SELECT item FROM orders ORDER BY item", globex)).toEqual([{ item: "gizmo" }, { item: "widget" }]);
    expect(await rows("SELECT count(*)::int AS n FROM orders WHERE item = 'gizmo'", acme)).toEqual([{ n: 0 }]);
    // The publishable key beside the token changes nothing, even another tenant's.
    expect(await rows("SELECT DISTINCT tenant_id FROM orders", { ...acme, apikey: publishable.globex })).toEqual([{ tenant_id: "acme" }]);
  });

  it("lets an admin key see every tenant, or exactly the one named by X-Tenant-ID", async () => {
    const all = await rows("SELECT DISTINCT tenant_id FROM orders ORDER BY 1", keyHeader(adminKey));
    expect(all).toEqual(expect.arrayContaining([{ tenant_id: "acme" }, { tenant_id: "globex" }]));
    for (const tenant of ["acme", "globex"]) {
      expect(await rows("SELECT DISTINCT tenant_id FROM orders", { ...keyHeader(adminKey), "x-tenant-id": tenant })).toEqual([{ tenant_id: tenant }]);
    }
    // An admin key bound to globex still addresses acme: the admin scope is global.
    const globexAdmin = (await admin.createKey({ tenant_id: "globex", scopes: ["admin"] })).key;
    expect(await rows("SELECT DISTINCT tenant_id FROM orders", { ...keyHeader(globexAdmin), "x-tenant-id": "acme" })).toEqual([{ tenant_id: "acme" }]);
    // A non-admin key may not name another tenant, and sees only its own.
    const acmeWriter = (await admin.createKey({ tenant_id: "acme", scopes: ["read", "write"] })).key;
    refused(await query("SELECT 1", { ...keyHeader(acmeWriter), "x-tenant-id": "globex" }), 403, "cross_tenant_forbidden");
    expect(await rows("SELECT DISTINCT tenant_id FROM orders", keyHeader(acmeWriter))).toEqual([{ tenant_id: "acme" }]);
    ok(await query("INSERT INTO orders (item) VALUES ('by key')", keyHeader(acmeWriter)));
    expect(await rows("SELECT tenant_id FROM orders WHERE item = 'by key'", keyHeader(adminKey))).toEqual([{ tenant_id: "acme" }]);
  });

  it("grants a publishable key nothing but sign-up", async () => {
    const headers = keyHeader(publishable.acme);
    refused(await query("SELECT 1", headers), 403, "insufficient_scope");
    refused(await http(server.url, "GET", "/auth/v1/user", { headers }), 403, "insufficient_scope");
    refused(await http(server.url, "GET", "/admin/v1/tenants", { headers }), 403, "insufficient_scope");
    refused(await http(server.url, "POST", "/auth/v1/logout", { headers }), 403, "insufficient_scope");
  });

  it("refuses sign-up with a secret key, and with a revoked publishable key", async () => {
    const secret = (await admin.createKey({ tenant_id: "acme", scopes: ["read", "write"] })).key;
    refused(await signUpWith(server.url, uniqueEmail(), strongPassword(), keyHeader(secret)), 403, "insufficient_scope");
    const revoked = await admin.createKey({ tenant_id: "acme", scopes: ["signup"] });
    ok(await admin.call("DELETE", `/admin/v1/keys/${revoked.api_key.id}`));
    refused(await signUpWith(server.url, uniqueEmail(), strongPassword(), { apikey: revoked.key }), 401, "invalid_api_key");
  });
});

describe.each(backends)("--disable-signup on %s storage", (backend) => {
  let server: TestServer;
  let publishableKey: string;
  beforeAll(async () => {
    server = await startTestServer(backend, [...generousLimits, "--disable-signup"]);
    const admin = adminRest(server.url, await cliKey(server));
    await admin.createTenant("acme");
    publishableKey = (await admin.createKey({ tenant_id: "acme", scopes: ["signup"] })).key;
  });
  afterAll(() => server?.close());

  it("refuses sign-ups without a key with 422 signup_disabled, and takes them with a publishable key", async () => {
    refused(await signUpWith(server.url, uniqueEmail(), strongPassword()), 422, "signup_disabled");
    const session = ok<SessionJson>(await signUpWith(server.url, uniqueEmail(), strongPassword(), { apikey: publishableKey }));
    expect(session.user.tenant_id).toBe("acme");
  });
});
