import { createClient } from "@connectrpc/connect";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QueryService } from "../../gen/helios/query/v1/query_pb.js";
import { authApi, expectOk, generousLimits, rest, rpcFailure, rpcTransport, strongPassword, uniqueEmail } from "../auth/support/auth-api.js";
import { backends, startTestServer, type TestServer } from "../support/server.js";

const defaultCap = 64 * 1024 * 1024;

describe.each(backends)("answer size cap on %s storage", (backend) => {
  let server: TestServer;
  let owner: pg.Client;
  let token: string;
  let adminToken: string;
  const query = (sql: string, who = token) =>
    rest(server.url, "POST", "/api/v1/query", { body: { sql }, headers: { authorization: `Bearer ${who}` } });

  beforeAll(async () => {
    // A long statement timeout, so that the byte cap, not the timeout, is what ends the answers.
    server = await startTestServer(backend, [...generousLimits, "--statement-timeout", "120"]);
    owner = new pg.Client({ connectionString: server.storage.ownerUrl });
    await owner.connect();
    const api = authApi("rest", server.url);
    const signUp = async (scopes: string[]) => {
      const email = uniqueEmail("bytes");
      const password = strongPassword();
      expectOk(await api.signUp(email, password));
      await owner.query("UPDATE auth.users SET scopes = $1 WHERE email = $2", [scopes, email]);
      return expectOk(await api.token({ email, password })).access_token;
    };
    token = await signUp(["read", "write"]);
    adminToken = await signUp(["read", "write", "admin"]);
    const created = await query("CREATE TABLE blobs (id serial PRIMARY KEY, tenant_id text NOT NULL, body text)", adminToken);
    expect(created.status, JSON.stringify(created.body)).toBe(200);
  });
  afterAll(async () => {
    await owner?.end();
    await server?.close();
  });

  // The probe: 500 MB values, far over the 64 MiB default cap. PostgreSQL takes a few seconds
  // of CPU to build each, which the cap does not change (it stops the reading, not the building).
  it("survives 8 concurrent 500 MB values, answering result_too_large with the limit and its flag", async () => {
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const started = performance.now();
    const answers = await Promise.all(Array.from({ length: 8 }, () => query("SELECT repeat('x', 500000000) AS huge")));
    const ms = performance.now() - started;
    clearInterval(sampler);
    for (const res of answers) {
      expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(413);
      expect(res.body).toEqual({
        error: "result_too_large",
        message: `Result is larger than ${defaultCap} bytes (--max-result-bytes)`,
      });
    }
    const grownMb = (peak - baseline) / 1024 / 1024;
    console.info(`8 × 500 MB (${backend}): all result_too_large after ${ms.toFixed(0)} ms; peak RSS +${grownMb.toFixed(0)} MB`);
    // At most the cap (and the parser's doubling buffer) per answer, never the 4 GB asked for.
    expect(grownMb).toBeLessThan(8 * 2 * 64);
    const after = await query("SELECT 1 AS one");
    expect(after.status).toBe(200);
    expect((await fetch(`${server.url}/ready`)).status).toBe(200);
  }, 120_000);

  it("caps the sum of many rows, and a write cut short changes nothing", async () => {
    const many = await query("SELECT repeat('y', 1000000) AS row FROM generate_series(1, 100)");
    expect(many.status).toBe(413);
    expect(many.body).toMatchObject({ error: "result_too_large" });
    const written = await query("INSERT INTO blobs (body) SELECT repeat('z', 1000000) FROM generate_series(1, 100) RETURNING body");
    expect(written.status).toBe(413);
    expect(written.body).toMatchObject({ error: "result_too_large" });
    const count = await query("SELECT count(*)::int AS n FROM blobs");
    expect(count.body).toMatchObject({ rows: [{ n: 0 }] });
    // Under the cap, the same shape is answered in full.
    const fits = await query("SELECT repeat('y', 1000000) AS row FROM generate_series(1, 10)");
    expect(fits.status).toBe(200);
    expect((fits.body as { rows: unknown[] }).rows).toHaveLength(10);
  }, 60_000);

  it("refuses JSON nested past 32 levels with result_too_large, on REST and gRPC, and serves 32", async () => {
    const deep = (depth: number, type: string) => `SELECT (repeat('[', ${depth}) || repeat(']', ${depth}))::${type} AS j`;
    const message = "A JSON value in the result nests deeper than 32 levels";
    for (const type of ["json", "jsonb"]) {
      expect(await query(deep(3000, type))).toMatchObject({ status: 413, body: { error: "result_too_large", message } });
      expect(await query(deep(33, type))).toMatchObject({ status: 413, body: { error: "result_too_large" } });
      const fits = await query(deep(32, type));
      expect(fits.status).toBe(200);
      expect(JSON.stringify((fits.body as { rows: Array<{ j: unknown }> }).rows[0]?.j)).toBe(`${"[".repeat(32)}${"]".repeat(32)}`);
    }
    const nested = await query(`SELECT ARRAY[(repeat('{"a":', 3000) || '1' || repeat('}', 3000))::json] AS j`);
    expect(nested).toMatchObject({ status: 413, body: { error: "result_too_large" } });
    const client = createClient(QueryService, rpcTransport("grpc", server.url));
    const headers = { authorization: `Bearer ${token}` };
    expect(await client.query({ sql: deep(3000, "json") }, { headers }).catch(rpcFailure)).toMatchObject({ reason: "result_too_large", message });
    const response = await client.query({ sql: deep(32, "jsonb") }, { headers });
    expect(response.rows).toHaveLength(1);
    expect((await query("SELECT 1 AS one")).status).toBe(200);
  });
});

describe.each(backends)("a small answer size cap on %s storage", (backend) => {
  let server: TestServer;
  let token: string;

  beforeAll(async () => {
    server = await startTestServer(backend, [...generousLimits, "--max-result-bytes", "4096"]);
    const api = authApi("rest", server.url);
    const email = uniqueEmail("small-cap");
    const password = strongPassword();
    expectOk(await api.signUp(email, password));
    token = expectOk(await api.token({ email, password })).access_token;
  });
  afterAll(async () => {
    await server?.close();
  });

  // An answer this small arrives in one read: the read that passes the cap also ends the answer.
  it("refuses an answer that passes the cap even when the same read completes it", async () => {
    const query = (sql: string) => rest(server.url, "POST", "/api/v1/query", { body: { sql }, headers: { authorization: `Bearer ${token}` } });
    for (let attempt = 0; attempt < 5; attempt++) {
      expect(await query("SELECT repeat('x', 6000) AS row")).toMatchObject({
        status: 413,
        body: { error: "result_too_large", message: "Result is larger than 4096 bytes (--max-result-bytes)" },
      });
    }
    expect(await query("SELECT repeat('x', 2000) AS row")).toMatchObject({ status: 200 });
  });
});
