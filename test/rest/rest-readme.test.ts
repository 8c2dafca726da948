import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { promoteToAdmin, publishableKey, signUpAccount, type Account } from "../clients/support/accounts.js";
import { startTestServer, type TestServer } from "../support/server.js";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");
const heading = "## Tables over REST (`/rest/v1`)";

/** The first ```lang block after the /rest heading of the README. */
function blockOf(lang: "sh" | "ts"): string {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const at = readme.indexOf(heading);
  expect(at).toBeGreaterThanOrEqual(0);
  const match = new RegExp("```" + lang + "\\n([\\s\\S]*?)```").exec(readme.slice(at));
  if (!match?.[1]) throw new Error(`no ${lang} block after ${heading}`);
  return match[1];
}

describe("the README's /rest section", () => {
  let server: TestServer;
  let user: Account;
  let admin: Account;
  beforeAll(async () => {
    server = await startTestServer("embedded");
    admin = await promoteToAdmin(server, await signUpAccount(server, "readme-admin"));
    user = await signUpAccount(server, "readme-user");
  });
  afterAll(() => server?.close());

  it("runs its curl block as written", async () => {
    const script = blockOf("sh").replaceAll("http://localhost:6543", server.url);
    const { stdout } = await run("bash", ["-euo", "pipefail", "-c", script], {
      cwd: root,
      env: { PATH: process.env.PATH, HELIOS_TOKEN: user.session.access_token, HELIOS_ADMIN_TOKEN: admin.session.access_token },
      timeout: 60_000,
    });
    expect(stdout).toContain('"item":"anvil"');
    expect(stdout).toContain('[{"id":2,"item":"rocket"}, \n {"id":1,"item":"anvil"}]');
    expect(stdout).toContain('[{"id":3,"tenant_id":"default","item":"glue","amount":4}]');
  });

  it("runs its supabase-js block as written", async () => {
    // The README's account and table: the curl test's user signs in with the guide's credentials.
    const email = "developer@example.com";
    const password = "secure-password-123";
    const signUp = await fetch(`${server.url}/auth/v1/signup`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email, password }) });
    expect(signUp.status).toBe(200);
    const key = await publishableKey(server, "readme-app");
    const dir = join(root, "node_modules", ".cache", "rest-readme");
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `example-${process.pid}.mts`);
    const code = `const publishableKey = ${JSON.stringify(key)};\n${blockOf("ts").replaceAll("http://localhost:6543", server.url)}\nconsole.log(JSON.stringify({ data, error, count }));\n`;
    writeFileSync(file, code);
    try {
      const { stdout } = await run(process.execPath, ["--import", "tsx", file], { cwd: root, timeout: 60_000 });
      expect(JSON.parse(stdout)).toEqual({ data: [{ id: 2, item: "rocket" }, { id: 1, item: "anvil" }], error: null, count: 2 });
    } finally {
      rmSync(file, { force: true });
    }
  });
});
