import { execFile, execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generousLimits } from "../auth/support/auth-api.js";
import { backends, startTestServer, type TestServer } from "../support/server.js";
import { promoteToAdmin, runSql, signUpAccount, type Account } from "./support/accounts.js";

const run = promisify(execFile);
const examples = fileURLToPath(new URL("../../examples/", import.meta.url));
const root = fileURLToPath(new URL("../../", import.meta.url));

/** A Python 3 with `requests` (Debian's python3-requests serves /usr/bin/python3). */
function pythonWithRequests(): string | undefined {
  for (const candidate of ["python3", "/usr/bin/python3"]) {
    try {
      execFileSync(candidate, ["-c", "import requests"], { stdio: "ignore" });
      return candidate;
    } catch {
      // Not this one.
    }
  }
  return undefined;
}
const python = pythonWithRequests();
if (!python) console.warn("The Python example is skipped: no python3 can import requests (apt-get install python3-requests).");

/** The JSON documents among an example's output lines. */
function jsonLines(stdout: string): unknown[] {
  return stdout
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as unknown);
}

describe.each(backends)("the guide's examples (examples/) on %s storage", (backend) => {
  let server: TestServer;
  let developer: Account;
  const env = () => ({
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? "/tmp",
    NO_PROXY: "*",
    no_proxy: "*",
    HELIOS_URL: server.url,
    HELIOS_EMAIL: developer.email,
    HELIOS_PASSWORD: developer.password,
  });
  /** What every example must print: the rows of the guide's `users` table, as the developer's tenant sees them. */
  const expectUsers = (result: unknown) =>
    expect(result).toMatchObject({
      columns: [{ name: "id" }, { name: "tenant_id" }, { name: "name" }],
      rows: [{ name: "Ada Lovelace", tenant_id: "default" }, { name: "Grace Hopper", tenant_id: "default" }],
      command: "SELECT",
    });

  beforeAll(async () => {
    server = await startTestServer(backend, generousLimits);
    // The guide queries `SELECT * FROM users`: an admin creates it; tenancy scopes it to each tenant.
    const admin = await promoteToAdmin(server, await signUpAccount(server, "admin"));
    await runSql(server, admin, "CREATE TABLE users (id serial PRIMARY KEY, tenant_id text NOT NULL, name text NOT NULL)");
    await runSql(server, admin, "INSERT INTO users (name) VALUES ('Ada Lovelace'), ('Grace Hopper')");
    developer = await signUpAccount(server, "developer");
  });
  afterAll(() => server?.close());

  it.skipIf(!python)("runs the Python HeliosDBClient (requests)", async () => {
    const { stdout } = await run(python ?? "python3", [`${examples}python/heliosdb_client.py`], { env: env() });
    const [first, afterRefresh] = jsonLines(stdout);
    expectUsers(first);
    expectUsers(afterRefresh);
  });

  it("runs the TypeScript HeliosDBClient class (fetch)", async () => {
    const { stdout } = await run(process.execPath, ["--import", "tsx", `${examples}typescript/heliosdb-client.ts`], {
      env: env(),
      cwd: root,
    });
    const [first, afterRefresh] = jsonLines(stdout);
    expectUsers(first);
    expectUsers(afterRefresh);
  });

  it("runs the cURL script (curl + jq), arguments overriding the environment", async () => {
    const { stdout } = await run("bash", [`${examples}curl/heliosdb.sh`, server.url, developer.email, developer.password], {
      env: { ...env(), HELIOS_URL: "http://127.0.0.1:9", HELIOS_EMAIL: "nobody@example.com" },
    });
    expect(stdout).toMatch(/^Token: eyJhbGciOiJIUzI1NiIs\.\.\.$/m);
    const [result] = jsonLines(stdout);
    expectUsers(result);
  });

  /** Runs an example that must fail: its exit code and output. */
  const failing = async (command: string, args: string[], extraEnv: Record<string, string> = {}) => {
    try {
      await run(command, args, { env: { ...env(), ...extraEnv } });
      throw new Error("the example succeeded");
    } catch (error) {
      const failed = error as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  };
  const expectExplained = (result: { code: number; stdout: string; stderr: string }, what: RegExp) => {
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(what);
    expect(result.stderr).toContain("Usage:");
    expect(result.stderr).toContain("/auth/v1/signup");
    expect(result.stderr + result.stdout).not.toMatch(/Traceback|KeyError|Bearer null|Bearer None|missing authorization/i);
    expect(jsonLines(result.stdout)).toEqual([]); // no query was sent
  };

  it.skipIf(!python)("the Python example explains a failed sign-in and an unreachable server", async () => {
    const script = `${examples}python/heliosdb_client.py`;
    expectExplained(
      await failing(python ?? "python3", [script], { HELIOS_PASSWORD: "wrong-password-123" }),
      /sign-in as .* failed: 400 invalid_credentials: Invalid login credentials/,
    );
    expectExplained(await failing(python ?? "python3", [script, "http://127.0.0.1:9"]), /cannot reach http:\/\/127\.0\.0\.1:9/);
  });

  it("the cURL script explains a failed sign-in and an unreachable server", async () => {
    const script = `${examples}curl/heliosdb.sh`;
    expectExplained(
      await failing("bash", [script, server.url, "nobody@example.com", "wrong-password-123"]),
      /sign-in as nobody@example\.com at .* failed: \{"error":"invalid_credentials"/,
    );
    expectExplained(await failing("bash", [script, "http://127.0.0.1:9"]), /failed: curl: \(7\)/);
  });
});
