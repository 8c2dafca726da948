import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authApi, generousLimits, jwtPayload, signUpUser, type TestUser } from "../auth/support/auth-api.js";
import { externalDatabaseUrl, freshDataDir, removeDataDir } from "../support/postgres.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { http, keyHeader, ok, runAdmin, signIn, type CliResult } from "./support/admin-api.js";

const run = promisify(execFile);
const bin = join(import.meta.dirname, "..", "..", "bin", "heliosdb-nano.js");

/** Runs `heliosdb-nano admin …` as its own process, as an operator would. */
async function admin(args: string[]): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, "admin", ...args], { env: { PATH: process.env.PATH }, timeout: 90_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

function expectKey(result: CliResult): string {
  expect(result.code, result.stderr).toBe(0);
  expect(result.stdout).toMatch(/^hdb_[a-z0-9]{8}_[A-Za-z0-9_-]{43}\n$/);
  expect(result.stderr).toContain("shown only this once");
  return result.stdout.trim();
}

const tenantsWith = async (server: TestServer, key: string) =>
  ok<{ tenants: Array<{ id: string }> }>(await http(server.url, "GET", "/admin/v1/tenants", { headers: keyHeader(key) }));

describe("heliosdb-nano admin on embedded storage", () => {
  const dataDir = freshDataDir("admin-cli");
  const storage = ["--data-dir", dataDir];
  let server: TestServer | undefined;
  let user: TestUser;
  let liveKey: string;

  beforeAll(async () => {
    server = await startTestServer("embedded", [...storage, ...generousLimits]);
    user = await signUpUser(authApi("rest", server.url), "cli");
  });
  afterAll(async () => {
    await server?.close();
    await removeDataDir(dataDir);
  });

  it("creates a key while the server runs, using the server's cluster", async () => {
    const live = server as TestServer;
    liveKey = expectKey(await admin(["create-key", "--name", "ops", "--scopes", "admin", ...storage]));
    expect((await tenantsWith(live, liveKey)).tenants.map((t) => t.id)).toContain("default");
    expect(ok(await http(live.url, "GET", "/ready"))).toEqual({ status: "ready" });
    expect(live.logs()).not.toContain(liveKey.slice("hdb_xxxxxxxx_".length));
  });

  it("grants scopes while the server runs", async () => {
    const live = server as TestServer;
    const granted = await admin(["grant", "--email", user.email, "--scopes", "admin", ...storage]);
    expect(granted.code, granted.stderr).toBe(0);
    expect(granted.stdout).toContain(`Granted admin to ${user.email}`);
    const session = await signIn(live.url, user.email, user.password);
    expect(jwtPayload(session.access_token).scopes).toEqual(["read", "write", "admin"]);
    const failed = await admin(["grant", "--email", "nobody@example.com", "--scopes", "admin", ...storage]);
    expect(failed.code).toBe(1);
    expect(failed.stderr.trim().split("\n")).toEqual(["heliosdb-nano admin: No user has the email nobody@example.com"]);
    const noTenant = await admin(["create-key", "--name", "x", "--scopes", "read", "--tenant", "nowhere", ...storage]);
    expect(noTenant.code).toBe(1);
    expect(noTenant.stderr).toMatch(/Tenant "nowhere" does not exist/);
  });

  it("creates a key while the server is stopped, and stops the cluster it started", async () => {
    await server?.close();
    server = undefined;
    const stoppedKey = expectKey(await admin(["create-key", "--name", "night", "--scopes", "read,write", "--expires-in", "3600", ...storage]));
    expect(existsSync(join(dataDir, "pg", "postmaster.pid"))).toBe(false);

    server = await startTestServer("embedded", [...storage, ...generousLimits]);
    const me = ok<{ scopes: string[] }>(await http(server.url, "GET", "/auth/v1/user", { headers: keyHeader(stoppedKey) }));
    expect(me.scopes).toEqual(["read", "write"]);
    const keys = ok<{ api_keys: Array<{ name: string; expires_at?: string; created_by: string }> }>(
      await http(server.url, "GET", "/admin/v1/keys", { headers: keyHeader(liveKey) }),
    ).api_keys;
    expect(keys.find((k) => k.name === "night")).toMatchObject({ expires_at: expect.any(String), created_by: "cli" });
  });
});

describe("heliosdb-nano admin on a data directory without storage", () => {
  const parent = freshDataDir("admin-cli-new");
  afterAll(() => removeDataDir(parent));

  it("refuses a --data-dir that holds no storage (a typo), creating nothing", async () => {
    const typo = join(parent, "helios-dta");
    const result = await admin(["create-key", "--name", "ops", "--scopes", "admin", "--data-dir", typo]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr.trim().split("\n")).toEqual([
      `heliosdb-nano admin: no embedded storage in ${typo}: check --data-dir (a server keeps its storage in ./helios-data ` +
        "of the folder it was started in, unless given --data-dir), or pass --create to create it there",
    ]);
    expect(existsSync(typo)).toBe(false);
    expect((await admin(["--help"])).stdout).toContain("--create");
  });

  it("creates the storage with --create, and a server started there accepts the key", async () => {
    const dataDir = join(parent, "helios-data");
    const key = expectKey(await admin(["create-key", "--name", "ops", "--scopes", "admin", "--data-dir", dataDir, "--create"]));
    expect(existsSync(join(dataDir, "pg", "PG_VERSION"))).toBe(true);
    const server = await startTestServer("embedded", ["--data-dir", dataDir]);
    try {
      expect((await tenantsWith(server, key)).tenants.map((t) => t.id)).toContain("default");
    } finally {
      await server.close();
    }
  });
});

describe("heliosdb-nano admin command line", () => {
  it("prints its help, and exits 2 with one line on a bad command line", async () => {
    const help = await admin(["--help"]);
    expect(help.code).toBe(0);
    for (const text of ["create-key", "grant", "--name", "--scopes", "--tenant", "--expires-in", "--email", "--data-dir", "--database-url"]) {
      expect(help.stdout).toContain(text);
    }
    const bad = await admin(["create-key", "--name", "ops", "--scopes", "root"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split("\n")).toEqual(['heliosdb-nano admin: scopes must be among read, write, admin, signup; got "root"']);
  });

  it.each([
    [[], /missing command/],
    [["drop-everything"], /unknown command "drop-everything"/],
    [["create-key", "--scopes", "admin"], /--name is required/],
    [["create-key", "--name", "ops"], /--scopes is required/],
    [["create-key", "--name", "ops", "--scopes", "root"], /scopes must be among/],
    [["create-key", "--name", "ops", "--scopes", "admin,signup"], /cannot be combined/],
    [["create-key", "--name", "ops", "--scopes", "admin", "--expires-in", "soon"], /--expires-in must be a whole number/],
    [["create-key", "--name", "ops", "--scopes", "admin", "--bogus", "1"], /Unknown option '--bogus'/],
    [["create-key", "--name", "ops", "--scopes", "admin", "--database-url", "mysql://x"], /--database-url must start with postgres/],
    [["grant", "--email", "not-an-email", "--scopes", "admin"], /Email address is invalid/],
    [["grant", "--email", "a@example.com", "--scopes", "signup"], /scopes must be among read, write, admin/],
  ])("rejects %j with exit 2 and one line, before touching storage", async (args, reason) => {
    // In process: the binary only turns this exit code into the process's (checked above).
    const result = await runAdmin([...args, "--data-dir", "/nonexistent/never-created"]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toMatch(reason);
  });
});

const externalUrl = await externalDatabaseUrl();

describe.runIf(externalUrl)("heliosdb-nano admin on external storage", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer("external", generousLimits);
  });
  afterAll(() => server?.close());

  it("creates a key with --database-url while the server runs", async () => {
    const key = expectKey(await admin(["create-key", "--name", "ops", "--scopes", "admin", "--database-url", server.config.databaseUrl ?? ""]));
    expect((await tenantsWith(server, key)).tenants.map((t) => t.id)).toContain("default");
  });
});
