import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./support/server.js";

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
