import { execFile } from "node:child_process";
import { Writable } from "node:stream";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runGenCli } from "../../src/cli/gen-types-cli.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { createSchemaWorld, sql, type SchemaWorld } from "./support/schema-world.js";

const run = promisify(execFile);
const bin = join(import.meta.dirname, "..", "..", "bin", "heliosdb-nano.js");

/** Runs `heliosdb-nano gen …` in this process, capturing its output. */
async function gen(args: string[], env: NodeJS.ProcessEnv = {}) {
  const out = { stdout: "", stderr: "" };
  const sink = (name: keyof typeof out) =>
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        out[name] += chunk.toString();
        done();
      },
    });
  const code = await runGenCli(args, { stdout: sink("stdout"), stderr: sink("stderr"), env });
  return { code, ...out };
}

describe("heliosdb-nano gen types --typescript", () => {
  let server: TestServer;
  let world: SchemaWorld;

  beforeAll(async () => {
    server = await startTestServer("embedded");
    world = await createSchemaWorld(server);
    await sql(server, world.acmeAdmin, "CREATE TABLE notes (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tenant_id text NOT NULL, body text NOT NULL)");
  });
  afterAll(() => server?.close());

  it("prints what GET /api/v1/schema/typescript answers, from the real binary", async () => {
    const served = await (await fetch(`${server.url}/api/v1/schema/typescript`, { headers: { "x-api-key": world.acme } })).text();
    expect(served).toContain('"notes": {');
    const { stdout } = await run(process.execPath, [bin, "gen", "types", "--typescript", "--url", server.url], {
      env: { PATH: process.env.PATH, HELIOS_API_KEY: world.acme },
      timeout: 60_000,
    });
    expect(stdout).toBe(served);
  });

  it("takes a token or a key, and explains refusals on stderr", async () => {
    const bad = await gen(["types", "--typescript", "--url", server.url, "--api-key", "hdb_nope_nope"]);
    expect(bad).toMatchObject({ code: 1, stdout: "" });
    expect(bad.stderr).toContain("invalid_api_key");
    const unreachable = await gen(["types", "--typescript", "--url", "http://127.0.0.1:1", "--api-key", world.acme]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain("cannot reach http://127.0.0.1:1");
  });

  it.each([
    [["types"], "--typescript is required"],
    [["types", "--typescript"], "--api-key or --token is required"],
    [["types", "--typescript", "--api-key", "a", "--token", "b"], "not both"],
    [["types", "--typescript", "--url", "ftp://x", "--token", "b"], "--url must be"],
    [["schemas"], 'unknown generator "schemas"'],
    [["types", "--typescript", "--nope"], "--nope"],
  ])("refuses %j with exit code 2", async (args, message) => {
    const result = await gen(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
  });

  it("prints its help", async () => {
    const result = await gen(["types", "--help"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("Usage: heliosdb-nano gen types --typescript");
  });
});
