import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { createClient } from "@connectrpc/connect";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthService } from "../../gen/helios/auth/v1/auth_pb.js";
import { QueryService } from "../../gen/helios/query/v1/query_pb.js";
import {
  authApi,
  createSecretLedger,
  generousLimits,
  rpcFailure,
  rpcTransport,
  signUpUser,
  strongPassword,
  uniqueEmail,
  type TestUser,
  type UserJson,
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
  type AdminRest,
  type ApiKeyJson,
} from "./support/admin-api.js";

type Headers = Record<string, string>;

describe.each(backends)("API keys on %s storage", (backend) => {
  let server: TestServer;
  let admin: AdminRest;
  let user: TestUser;
  let readKey: string, writeKey: string, publishableKey: string;
  const ledger = createSecretLedger();

  /** Creates a key through AdminService and remembers it as a secret the logs must not hold. */
  async function newKey(body: Record<string, unknown>): Promise<{ api_key: ApiKeyJson; key: string }> {
    const created = await admin.createKey(body);
    ledger.add(created.key, created.key.slice("hdb_xxxxxxxx_".length));
    return created;
  }
  const query = (sql: string, headers: Headers, path = "/api/v1/query") => http(server.url, "POST", path, { body: { sql }, headers });
  const getUser = (headers: Headers, path = "/auth/v1/user") => http(server.url, "GET", path, { headers });

  beforeAll(async () => {
    server = await startTestServer(backend, generousLimits);
    const adminKey = await cliKey(server);
    ledger.add(adminKey);
    admin = adminRest(server.url, adminKey);
    user = await signUpUser(authApi("rest", server.url), "keys");
    ledger.addUser(user);
    const [read, write, publishable] = await Promise.all([
      newKey({ scopes: ["read"] }),
      newKey({ scopes: ["read", "write"] }),
      newKey({ scopes: ["signup"] }),
    ]);
    [readKey, writeKey, publishableKey] = [read.key, write.key, publishable.key];
    ok(await query("CREATE TABLE notes (id serial PRIMARY KEY, tenant_id text NOT NULL, body text)", keyHeader(adminKey)));
  });
  afterAll(() => server?.close());

  describe("each credential method authenticates REST calls", () => {
    const methods: Array<[string, () => { headers: Headers; suffix: string }]> = [
      ["X-API-Key", () => ({ headers: keyHeader(writeKey), suffix: "" })],
      ["the apikey header", () => ({ headers: { apikey: writeKey }, suffix: "" })],
      ["?apikey=", () => ({ headers: {}, suffix: `?apikey=${encodeURIComponent(writeKey)}` })],
      ["Authorization: Bearer <key>", () => ({ headers: bearerHeader(writeKey), suffix: "" })],
    ];

    it.each(methods)("%s: GetUser describes the key, Query runs with its scopes", async (_name, credentials) => {
      const { headers, suffix } = credentials();
      const me = ok<UserJson>(await getUser(headers, `/auth/v1/user${suffix}`));
      expect(me).toMatchObject({ id: writeKey.slice(4, 12), email: "", role: "authenticated", tenant_id: "default", scopes: ["read", "write"] });
      ok(await query("INSERT INTO notes (body) VALUES ('by key')", headers, `/api/v1/query${suffix}`));
      expect(ok<{ rows: unknown[] }>(await query("SELECT 1 AS one", headers, `/api/v1/query${suffix}`)).rows).toEqual([{ one: 1 }]);
    });

    it("a user's Bearer token still works beside them", async () => {
      expect(ok<UserJson>(await getUser(bearerHeader(user.session.access_token))).id).toBe(user.session.user.id);
      ok(await query("SELECT 1", bearerHeader(user.session.access_token)));
    });
  });

  describe.each(["connect", "grpc"] as const)("over %s", (protocol) => {
    const clients = () => {
      const transport = rpcTransport(protocol, server.url);
      return { auth: createClient(AuthService, transport), query: createClient(QueryService, transport) };
    };

    it.each([
      ["Bearer token", () => bearerHeader(user.session.access_token), () => user.session.user.id],
      ["X-API-Key", () => keyHeader(readKey), () => readKey.slice(4, 12)],
      ["apikey header", () => ({ apikey: readKey }), () => readKey.slice(4, 12)],
      ["Bearer <key>", () => bearerHeader(readKey), () => readKey.slice(4, 12)],
    ])("authenticates GetUser and Query with a %s", async (_name, headers, id) => {
      const { auth, query: queries } = clients();
      expect((await auth.getUser({}, { headers: headers() })).id).toBe(id());
      const result = await queries.query({ sql: "SELECT 2 AS two" }, { headers: headers() });
      expect(result.rowCount).toBe(1);
    });

    it("refuses bad keys with invalid_api_key and keys without the scope with insufficient_scope", async () => {
      const { auth, query: queries } = clients();
      const bad = await auth.getUser({}, { headers: keyHeader(`${readKey.slice(0, -2)}xx`) }).catch(rpcFailure);
      expect(bad).toMatchObject({ reason: "invalid_api_key" });
      const insert = await queries.query({ sql: "INSERT INTO notes (body) VALUES ('x')" }, { headers: keyHeader(readKey) }).catch(rpcFailure);
      expect(insert).toMatchObject({ reason: "insufficient_scope" });
    });
  });

  it("refuses malformed, unknown and tampered keys with 401 invalid_api_key", async () => {
    const id = readKey.slice(4, 12);
    for (const key of [
      "hk_live_whatever",
      "hdb_",
      `hdb_${id}_${"A".repeat(43)}`,
      `hdb_zzzzzzzz_${readKey.slice(13)}`,
      `${readKey}x`,
      `${readKey.slice(0, -1)}${readKey.endsWith("A") ? "B" : "A"}`,
      "hdb_".padEnd(10_000, "x"),
    ]) {
      refused(await getUser(keyHeader(key)), 401, "invalid_api_key");
      refused(await query("SELECT 1", keyHeader(key)), 401, "invalid_api_key");
    }
  });

  it("enforces scopes on the query path: read cannot INSERT, write cannot run DDL, signup cannot query", async () => {
    expect(ok<{ rows: unknown[] }>(await query("SELECT count(*)::int AS n FROM notes", keyHeader(readKey))).rows).toHaveLength(1);
    const insert = await query("INSERT INTO notes (body) VALUES ('nope')", keyHeader(readKey));
    refused(insert, 403, "insufficient_scope");
    expect(insert.body).toMatchObject({ required_scope: "write" });
    ok(await query("INSERT INTO notes (body) VALUES ('yes')", keyHeader(writeKey)));
    refused(await query("CREATE TABLE t (id int)", keyHeader(writeKey)), 403, "insufficient_scope");
    refused(await query("SELECT 1", keyHeader(publishableKey)), 403, "insufficient_scope");
    refused(await getUser(keyHeader(publishableKey)), 403, "insufficient_scope");
  });

  it("revokes a key at once on every protocol", async () => {
    const { api_key: described, key } = await newKey({ scopes: ["read"] });
    const transport = rpcTransport("grpc", server.url);
    const auth = createClient(AuthService, transport);
    ok(await getUser(keyHeader(key)));
    await auth.getUser({}, { headers: keyHeader(key) });

    const revoked = ok<ApiKeyJson>(await admin.call("DELETE", `/admin/v1/keys/${described.id}`));
    expect(revoked.revoked_at).toBeDefined();
    refused(await getUser(keyHeader(key)), 401, "invalid_api_key");
    refused(await query("SELECT 1", keyHeader(key)), 401, "invalid_api_key");
    expect(await auth.getUser({}, { headers: keyHeader(key) }).catch(rpcFailure)).toMatchObject({ reason: "invalid_api_key" });
    const connect = createClient(QueryService, rpcTransport("connect", server.url));
    expect(await connect.query({ sql: "SELECT 1" }, { headers: keyHeader(key) }).catch(rpcFailure)).toMatchObject({ reason: "invalid_api_key" });

    // Idempotent, addressable by prefix; revoked keys are listed only on request.
    expect(ok<ApiKeyJson>(await admin.call("DELETE", `/admin/v1/keys/${described.prefix}`)).revoked_at).toBe(revoked.revoked_at);
    const listed = ok<{ api_keys: ApiKeyJson[] }>(await admin.call("GET", "/admin/v1/keys")).api_keys.map((k) => k.id);
    expect(listed).not.toContain(described.id);
    const all = ok<{ api_keys: ApiKeyJson[] }>(await admin.call("GET", "/admin/v1/keys?include_revoked=true")).api_keys.map((k) => k.id);
    expect(all).toContain(described.id);
    refused(await admin.call("DELETE", "/admin/v1/keys/nosuchid"), 404, "api_key_not_found");
    refused(await admin.call("DELETE", "/admin/v1/keys/not-a-key-id"), 404, "api_key_not_found");
  });

  it("expires a key after its lifetime", async () => {
    const { api_key: described, key } = await newKey({ scopes: ["read"], expires_in_seconds: 2 });
    expect(Date.parse(described.expires_at ?? "") - Date.parse(described.created_at)).toBe(2000);
    ok(await getUser(keyHeader(key)));
    let res = await getUser(keyHeader(key));
    for (const deadline = Date.now() + 20_000; res.status === 200 && Date.now() < deadline; res = await getUser(keyHeader(key))) await sleep(200);
    refused(res, 401, "invalid_api_key");
    refused(await query("SELECT 1", keyHeader(key)), 401, "invalid_api_key");
  });

  it("treats a token beside a secret key, or two keys, as ambiguous; a publishable key beside a token is not", async () => {
    const token = bearerHeader(user.session.access_token);
    refused(await getUser({ ...token, ...keyHeader(readKey) }), 400, "ambiguous_credentials");
    refused(await query("SELECT 1", { ...token, apikey: writeKey }), 400, "ambiguous_credentials");
    refused(await getUser({ ...keyHeader(readKey), apikey: writeKey }), 400, "ambiguous_credentials");
    refused(await getUser({ ...keyHeader(readKey), ...bearerHeader(writeKey) }), 400, "ambiguous_credentials");
    // What supabase-js sends: the user's token and the publishable key.
    expect(ok<UserJson>(await getUser({ ...token, apikey: publishableKey })).id).toBe(user.session.user.id);
    ok(await query("SELECT 1", { ...token, apikey: publishableKey }));
    // One key sent twice is one principal.
    expect(ok<UserJson>(await getUser({ ...keyHeader(readKey), ...bearerHeader(readKey), apikey: readKey })).id).toBe(readKey.slice(4, 12));
    // A bad publishable key is still a bad key.
    refused(await getUser({ ...token, apikey: `${publishableKey}x` }), 401, "invalid_api_key");
  });

  it("refuses a sign-up that presents a publishable key beside a secret key, creating nobody", async () => {
    await admin.createTenant(`pair-${backend}`);
    const otherPublishable = (await newKey({ scopes: ["signup"], tenant_id: `pair-${backend}` })).key;
    const email = uniqueEmail("pair");
    const password = strongPassword();
    const signUp = (headers: Headers) => http(server.url, "POST", "/auth/v1/signup", { body: { email, password }, headers });
    for (const headers of [
      { ...keyHeader(readKey), apikey: otherPublishable },
      { ...bearerHeader(writeKey), apikey: otherPublishable },
      { ...keyHeader(otherPublishable), apikey: readKey },
    ]) {
      refused(await signUp(headers), 400, "ambiguous_credentials");
    }
    refused(await http(server.url, "POST", "/auth/v1/token", { body: { email, password } }), 400, "invalid_credentials");
    // Each alone does what it says: the secret key is refused, the publishable key signs up into its tenant.
    refused(await signUp(keyHeader(readKey)), 403, "insufficient_scope");
    const created = ok<{ user: UserJson }>(await signUp({ apikey: otherPublishable }));
    expect(created.user.tenant_id).toBe(`pair-${backend}`);
  });

  it("answers ?apikey= with a deprecation warning, errors included", async () => {
    const good = await getUser({}, `/auth/v1/user?apikey=${encodeURIComponent(readKey)}`);
    expect(good.status).toBe(200);
    expect(good.headers.get("deprecation")).toBe("true");
    expect(good.headers.get("warning")).toMatch(/^299 - ".*apikey query parameter is deprecated/);
    const denied = await query("INSERT INTO notes (body) VALUES ('x')", {}, `/api/v1/query?apikey=${encodeURIComponent(readKey)}`);
    refused(denied, 403, "insufficient_scope");
    expect(denied.headers.get("deprecation")).toBe("true");
    const bad = await getUser({}, "/auth/v1/user?apikey=hdb_nothing");
    refused(bad, 401, "invalid_api_key");
    expect(bad.headers.get("deprecation")).toBe("true");
    expect((await getUser(keyHeader(readKey))).headers.get("deprecation")).toBeNull();
  });

  it("shows the secret only at creation, stores only its SHA-256, and records the last use", async () => {
    const { api_key: described, key } = await newKey({ name: "audit", scopes: ["read"] });
    expect(key).toMatch(/^hdb_[a-z0-9]{8}_[A-Za-z0-9_-]{43}$/);
    expect(key.startsWith(`${described.prefix}_`)).toBe(true);
    expect(described).toMatchObject({ name: "audit", tenant_id: "default", scopes: ["read"], created_by: expect.stringMatching(/^api_key:/) });
    expect(described.last_used_at).toBeUndefined();

    ok(await getUser(keyHeader(key)));
    const list = await admin.call("GET", "/admin/v1/keys");
    expect(JSON.stringify(list.body)).not.toContain(key.slice(13));
    const listed = ok<{ api_keys: ApiKeyJson[] }>(list).api_keys.find((k) => k.id === described.id);
    expect(listed?.last_used_at).toBeDefined();

    const owner = new pg.Client({ connectionString: server.storage.ownerUrl });
    await owner.connect();
    try {
      const { rows } = await owner.query<{ hash: Buffer; row: string }>("SELECT hash, row_to_json(k)::text AS row FROM auth.api_keys k WHERE id = $1", [described.id]);
      expect(rows[0]?.hash.equals(createHash("sha256").update(key).digest())).toBe(true);
      expect(rows[0]?.row).not.toContain(key.slice(13));
    } finally {
      await owner.end();
    }
  });

  it("never logs keys, tokens or passwords", () => {
    expect(ledger.size).toBeGreaterThan(5);
    ledger.expectNoneIn(server.logs());
  });
});
