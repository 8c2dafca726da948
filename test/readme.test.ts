import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findFreeLoopbackPort } from "../src/db/free-port.js";
import { cliKey } from "./admin/support/admin-api.js";
import { rest } from "./auth/support/auth-api.js";
import { errorOf, getUser, signUp } from "./ops/support/api.js";
import { pollUntil } from "./ops/support/wait.js";
import { createScratchDatabase, externalDatabaseUrl, freshDataDir, removeDataDir } from "./support/postgres.js";
import { startTestServer, testJwtSecret, type TestServer } from "./support/server.js";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..");

/** The first `sh` block after `heading` in the README. */
function shellBlockAfter(heading: string): string {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf(heading));
  const match = /```sh\n([\s\S]*?)```/.exec(section);
  if (!match?.[1]) throw new Error(`no sh block after ${heading}`);
  return match[1];
}

describe("the README's usage block", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer("embedded");
  });
  afterAll(() => server?.close());

  it("runs as written against a real server", async () => {
    const script = shellBlockAfter("## Using it").replaceAll("http://localhost:6543", server.url);
    const { stdout } = await run("bash", ["-euo", "pipefail", "-c", script], {
      cwd: root,
      env: { PATH: process.env.PATH },
      timeout: 60_000,
    });
    expect(stdout).toContain('"access_token"');
    expect(stdout).toContain('"rows":[{"one":1}]');
    expect(stdout).toContain("helios.auth.v1.AuthService");
    expect(stdout).toContain('"email": "developer@example.com"');
  });
});

describe("the README's schema block", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer("embedded");
  });
  afterAll(() => server?.close());

  it("runs as written against a real server", async () => {
    const dir = freshDataDir("readme-schema");
    try {
      const script = shellBlockAfter("## Schema")
        .replaceAll("http://localhost:6543", server.url)
        .replace("> database.types.ts", `> ${join(dir, "database.types.ts")}`);
      const { stdout } = await run("bash", ["-euo", "pipefail", "-c", script], {
        cwd: root,
        env: { PATH: process.env.PATH, ADMIN_KEY: await cliKey(server, "read,write,admin") },
        timeout: 90_000,
      });
      expect(stdout).toContain('CREATE TABLE "public"."orders" (');
      expect(stdout).toContain('"placed_at" timestamptz,');
      expect(stdout).toContain('{"applied":true,"relationships":["purchases.customer_id -> customers.id"]}');
      expect(stdout).toContain('[["sku","text"],["price","numeric"],["tenant_id","text"]]');
      expect(stdout).toContain('{"rls_enabled":true,"columns":["id","customer_id","item","tenant_id"]}');
      const types = readFileSync(join(dir, "database.types.ts"), "utf8");
      expect(types).toContain('"purchases": {');
    } finally {
      await removeDataDir(dir);
    }
  });
});

const external = await externalDatabaseUrl();

describe.skipIf(!external)("the README's several-instances block", () => {
  it("starts two instances that share one database and its revocations", async () => {
    const scratch = await createScratchDatabase(external as string);
    const ports = [await findFreeLoopbackPort(), await findFreeLoopbackPort()] as const;
    // As written, except: the scratch database; free ports; and this suite's JWT secret instead of a
    // random one, because the query role's password derives from it and roles are server-wide (a new
    // secret would lock out the other suites sharing this PostgreSQL).
    const script = `${shellBlockAfter("## Running several instances")
      .replace(/postgres:\/\/\S+/, scratch.url)
      .replace('"$(openssl rand -base64 48)"', `'${testJwtSecret}'`)
      .replace("--port 6543", `--port ${ports[0]}`)
      .replace("--port 6544", `--port ${ports[1]}`)}\nwait\n`;
    for (const placeholder of ["db.example.com", "openssl", "--port 6543 ", "--port 6544 "]) expect(script).not.toContain(placeholder);
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== "DATABASE_URL" && name !== "HELIOS_JWT_SECRET"));
    const instances = spawn("bash", ["-euo", "pipefail", "-c", script], { cwd: root, env, stdio: "ignore", detached: true });
    const exited = once(instances, "exit");
    const [a, b] = ports.map((port) => `http://127.0.0.1:${port}`) as [string, string];
    try {
      for (const url of [a, b]) {
        const ready = await pollUntil(async () => (await fetch(`${url}/ready`).catch(() => undefined))?.status === 200, 90_000, 200);
        expect(ready, `${url} became ready`).toBeDefined();
      }
      const user = await signUp(a, "readme");
      const token = user.session.access_token;
      expect((await getUser(b, token)).status).toBe(200);
      expect((await rest(a, "POST", "/auth/v1/logout", { headers: { authorization: `Bearer ${token}` } })).status).toBeLessThan(300);
      expect(await pollUntil(async () => errorOf(await getUser(b, token)) === "session_revoked", 1_000)).toBeDefined();
    } finally {
      process.kill(-(instances.pid as number), "SIGTERM");
      await exited;
      await scratch.drop();
    }
  }, 180_000);
});

describe("the README's data model block", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer("embedded");
  });
  afterAll(() => server?.close());

  it("runs as written and shows each kind of table at work", async () => {
    const script = shellBlockAfter("## Data model").replaceAll("http://localhost:6543", server.url);
    const { stdout } = await run("bash", ["-euo", "pipefail", "-c", script], {
      cwd: root,
      env: { PATH: process.env.PATH, ADMIN_KEY: await cliKey(server) },
      timeout: 60_000,
    });
    const answers = stdout.trim().split("\n").map((line) => JSON.parse(line) as { rows: unknown[]; row_count: number; notices: string[] });
    expect(answers).toHaveLength(12);
    expect(answers[0]?.notices).toEqual([expect.stringMatching(/^table todos is an owned table/)]);
    expect(answers[2]?.rows).toEqual([{ bobs_view: 0 }]);
    expect(answers[3]?.notices).toEqual([expect.stringMatching(/^table products is a shared table/)]);
    expect(answers[5]?.rows).toEqual([{ name: "anvil" }]);
    expect(answers[6]?.row_count).toBe(0);
    expect(answers[7]?.notices).toEqual([expect.stringMatching(/^table notes is a tenant table/)]);
    expect(answers[10]?.row_count).toBe(0);
    expect(answers[11]?.rows).toEqual([{ body: "hello" }]);
  });
});
