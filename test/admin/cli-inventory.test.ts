import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generousLimits, strongPassword, uniqueEmail, type SessionJson } from "../auth/support/auth-api.js";
import { backends, startTestServer, type TestServer } from "../support/server.js";
import { cliKey, http, keyHeader, ok, refused, runAdmin, signUpWith, type AdminUserJson, type ApiKeyJson, type CliResult } from "./support/admin-api.js";

function succeeded(result: CliResult): string {
  expect(result.code, result.stderr).toBe(0);
  return result.stdout;
}

function json<T>(result: CliResult): T {
  return JSON.parse(succeeded(result)) as T;
}

describe.each(backends)("heliosdb-nano admin tenants, keys and users on %s storage", (backend) => {
  let server: TestServer;
  let storage: string[];
  const admin = (args: string[]) => runAdmin([...args, ...storage]);

  beforeAll(async () => {
    server = await startTestServer(backend, generousLimits);
    storage = ["--database-url", server.storage.ownerUrl];
  });
  afterAll(() => server?.close());

  it("creates tenants and lists them", async () => {
    expect(succeeded(await admin(["create-tenant", "--id", "acme", "--name", "Acme Corp"]))).toBe("Created tenant acme (Acme Corp).\n");
    const globex = json<{ id: string; name: string; created_at: string }>(await admin(["create-tenant", "--id", "globex", "--json"]));
    expect(globex).toEqual({ id: "globex", name: "globex", created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });

    const taken = await admin(["create-tenant", "--id", "acme"]);
    expect(taken).toMatchObject({ code: 1, stdout: "", stderr: 'heliosdb-nano admin: Tenant "acme" already exists\n' });
    expect((await admin(["create-tenant", "--id", "no spaces"])).stderr).toMatch(/^heliosdb-nano admin: id must be 1 to 64 characters/);
    expect((await admin(["create-tenant"])).code).toBe(2);

    const listed = json<{ tenants: { id: string; name: string }[] }>(await admin(["list-tenants", "--json"]));
    expect(listed.tenants.map((tenant) => [tenant.id, tenant.name])).toEqual(
      expect.arrayContaining([
        ["acme", "Acme Corp"],
        ["globex", "globex"],
      ]),
    );
    const text = succeeded(await admin(["list-tenants"])).split("\n");
    expect(text[0]).toMatch(/^ID\s+NAME\s+CREATED$/);
    expect(text.find((line) => line.startsWith("acme "))).toMatch(/^acme\s+Acme Corp\s+\d{4}-/);
  });

  it("lists keys without their secrets and revokes them, refused by the running server within seconds", async () => {
    const key = await cliKey(server, "read,write", ["--tenant", "acme"]);
    const secret = key.slice("hdb_xxxxxxxx_".length);
    const prefix = key.slice(0, "hdb_xxxxxxxx".length);
    const query = () => http(server.url, "POST", "/api/v1/query", { body: { sql: "SELECT 1 AS one" }, headers: keyHeader(key) });
    ok(await query());

    const listed = json<{ api_keys: ApiKeyJson[] }>(await admin(["list-keys", "--tenant", "acme", "--json"]));
    expect(listed.api_keys).toEqual([expect.objectContaining({ prefix, tenant_id: "acme", scopes: ["read", "write"], created_by: "cli" })]);
    const text = succeeded(await admin(["list-keys"]));
    expect(text).toMatch(new RegExp(`^${prefix}\\s+test-read,write\\s+acme\\s+read,write\\s`, "m"));
    expect(text + JSON.stringify(listed)).not.toContain(secret);

    expect(succeeded(await admin(["revoke-key", "--id", prefix]))).toBe(`Revoked API key ${prefix} "test-read,write" (tenant acme).\n`);
    let status = 200;
    for (let attempt = 0; attempt < 40 && status === 200; attempt++) {
      status = (await query()).status;
      if (status === 200) await new Promise((done) => setTimeout(done, 100));
    }
    refused(await query(), 401, "invalid_api_key");

    expect(json<{ api_keys: ApiKeyJson[] }>(await admin(["list-keys", "--tenant", "acme", "--json"])).api_keys).toEqual([]);
    const withRevoked = json<{ api_keys: ApiKeyJson[] }>(await admin(["list-keys", "--tenant", "acme", "--include-revoked", "--json"]));
    expect(withRevoked.api_keys).toEqual([expect.objectContaining({ prefix, revoked_at: expect.any(String) })]);
    // Revoking again reports the key as it is; an unknown key fails.
    expect(json<ApiKeyJson>(await admin(["revoke-key", "--id", prefix, "--json"]))).toMatchObject({ prefix, revoked_at: withRevoked.api_keys[0]?.revoked_at });
    expect(await admin(["revoke-key", "--id", "hdb_zzzzzzzz"])).toMatchObject({ code: 1, stderr: "heliosdb-nano admin: API key not found\n" });
  });

  it("lists users of a tenant, or by email, without password hashes", async () => {
    const signup = await cliKey(server, "signup", ["--tenant", "globex"]);
    const emails = [uniqueEmail("cli-a"), uniqueEmail("cli-b")];
    const sessions = [];
    for (const email of emails) sessions.push(ok<SessionJson>(await signUpWith(server.url, email, strongPassword(), { apikey: signup })));

    const listed = json<{ users: AdminUserJson[]; next_page_token: string }>(await admin(["list-users", "--tenant", "globex", "--json"]));
    expect(listed.users.map((user) => user.email).sort()).toEqual([...emails].sort());
    expect(listed.users[0]).toMatchObject({ tenant_id: "globex", scopes: ["read", "write"] });
    expect(listed.next_page_token).toBe("");
    expect(JSON.stringify(listed)).not.toMatch(/argon2|password/);

    const one = json<{ users: AdminUserJson[] }>(await admin(["list-users", "--email", emails[1]!.toUpperCase(), "--json"]));
    expect(one.users.map((user) => user.id)).toEqual([sessions[1]?.user.id]);
    const text = succeeded(await admin(["list-users", "--tenant", "globex"]));
    expect(text.split("\n")[0]).toMatch(/^ID\s+EMAIL\s+TENANT\s+SCOPES\s+CREATED\s+BANNED$/);
    expect(text).toContain(emails[0]);
    expect(succeeded(await admin(["list-users", "--tenant", "nobody-here"]))).toBe("(none)\n");
  });

  it("documents the commands and refuses a value given to a switch", async () => {
    const help = succeeded(await runAdmin(["--help"]));
    for (const command of ["create-tenant", "list-tenants", "list-keys", "revoke-key", "list-users"]) expect(help).toContain(`heliosdb-nano admin ${command}:`);
    expect(help).toMatch(/^\s+--json\s+print the result as JSON/m);
    expect((await admin(["list-tenants", "--json=yes"])).code).toBe(2);
  });
});
