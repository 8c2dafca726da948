import { createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QueryService } from "../../gen/helios/query/v1/query_pb.js";
import { generousLimits, rest, rpcFailure, rpcTransport, type RestResponse } from "../auth/support/auth-api.js";
import { promoteToAdmin, runSql, signUpAccount, type Account } from "../clients/support/accounts.js";
import { backends, startTestServer, type TestServer } from "../support/server.js";

/** What a first-time user meets: each refusal says what was wrong, with numbers, limits and flags. */
describe.each(backends)("query answers tell the truth on %s storage", (backend) => {
  let server: TestServer;
  let admin: Account;
  let developer: Account;

  const query = (sql: string, extra: Record<string, unknown> = {}, who: Account = developer) =>
    rest(server.url, "POST", "/api/v1/query", {
      body: { sql, ...extra },
      headers: { authorization: `Bearer ${who.session.access_token}` },
    });
  const expectError = (res: RestResponse, status: number, error: string) => {
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    expect(res.body).toMatchObject({ error });
    return res.body as Record<string, string>;
  };

  beforeAll(async () => {
    server = await startTestServer(backend, [...generousLimits, "--row-cap", "50", "--max-sql-bytes", "2048", "--max-body-bytes", "4096"]);
    admin = await promoteToAdmin(server, await signUpAccount(server, "admin"));
    developer = await signUpAccount(server, "developer");
    await runSql(server, admin, "CREATE TABLE items (id int PRIMARY KEY, tenant_id text NOT NULL, name text)");
    await runSql(server, developer, "INSERT INTO items (id, name) VALUES (1, 'anvil')");
  });
  afterAll(() => server?.close());

  it.each([
    ["SELECT $1::int", [], 1, 0],
    ["SELECT $1::int", [1, 2], 1, 2],
    ["SELECT $2::int", [1], 2, 1],
    ["SELECT 1", [7], 0, 1],
  ])("answers %s with %j params 400 parameter_count_mismatch, not a dead database", async (sql, params, expected, given) => {
    const body = expectError(await query(sql, { params }), 400, "parameter_count_mismatch");
    expect(body).toMatchObject({ expected_params: String(expected), given_params: String(given) });
    expect(body.message).toContain(`${given} ${given === 1 ? "was" : "were"} given`);
    expect(body.message).toContain(expected === 0 ? "no $n placeholders" : `needs ${expected} param`);
  });

  it("refuses a mismatch over gRPC with INVALID_ARGUMENT and both numbers", async () => {
    const client = createClient(QueryService, rpcTransport("grpc", server.url));
    const failure = await client
      .query({ sql: "SELECT $1::int + $2::int" }, { headers: { authorization: `Bearer ${developer.session.access_token}` } })
      .catch(rpcFailure);
    expect(failure).toMatchObject({ reason: "parameter_count_mismatch", details: { expected_params: "2", given_params: "0" } });
    // The same statement with its values works, so the server is fine.
    expect((await query("SELECT $1::int + $2::int AS sum", { params: [1, 2] })).body).toMatchObject({ rows: [{ sum: 3 }] });
  });

  it("answers a lost lock race 409 transaction_conflict (retryable), not sql_error", async () => {
    const holder = query("WITH locked AS (SELECT id FROM items WHERE id = 1 FOR UPDATE) SELECT (SELECT count(*) FROM locked) AS n, pg_sleep(1.5)");
    await new Promise((resolve) => setTimeout(resolve, 500));
    const body = expectError(await query("SELECT id FROM items WHERE id = 1 FOR UPDATE NOWAIT"), 409, "transaction_conflict");
    expect(body).toMatchObject({ sqlstate: "55P03" });
    expect((await holder).status).toBe(200);
  });

  it("names each limit and the flag that changes it", async () => {
    const sql = expectError(await query(`SELECT '${"x".repeat(3000)}'`), 413, "sql_too_large");
    expect(sql.message).toBe("SQL text is larger than the limit of 2048 bytes (--max-sql-bytes)");
    expect(sql.limit).toBe("2048");

    const body = expectError(await query("SELECT $1::text", { params: ["y".repeat(5000)] }), 413, "payload_too_large");
    expect(body.message).toBe("Request body is larger than the limit of 4096 bytes (--max-body-bytes)");

    const capped = await query("SELECT generate_series(1, 100) AS n");
    expect(capped.status).toBe(200);
    expect(capped.body).toMatchObject({
      truncated: true,
      row_count: 50,
      notices: ["Only the first 50 rows are returned: the row cap (--row-cap). Page through the rest with LIMIT and OFFSET."],
    });
    const whole = await query("SELECT generate_series(1, 50) AS n");
    expect(whole.body).toMatchObject({ truncated: false, notices: [] });
  });

  it("says how GET passes its SQL when a GET has none", async () => {
    const res = await rest(server.url, "GET", "/api/v1/query", { headers: { authorization: `Bearer ${developer.session.access_token}` } });
    const body = expectError(res, 400, "validation_failed");
    expect(body.message).toContain("?sql=");
    const viaQuery = await rest(server.url, "GET", `/api/v1/query?sql=${encodeURIComponent("SELECT $1::int AS n")}&params=${encodeURIComponent("[7]")}`, {
      headers: { authorization: `Bearer ${developer.session.access_token}` },
    });
    expect(viaQuery.body).toMatchObject({ rows: [{ n: 7 }] });
  });

  it("keeps PostgreSQL's own hint, and adds one for a missing table", async () => {
    const column = expectError(await query("SELECT items.nme FROM items"), 400, "sql_error");
    expect(column).toMatchObject({ sqlstate: "42703", message: "column items.nme does not exist" });
    expect(column.hint).toMatch(/^Perhaps you meant to reference the column "items.name"/);

    const table = expectError(await query("SELECT * FROM users"), 400, "sql_error");
    expect(table).toMatchObject({ sqlstate: "42P01", message: 'relation "users" does not exist' });
    expect(table.hint).toContain("CREATE TABLE");
    expect(table.hint).toContain("information_schema.tables");
    // The hint's own query works as it says.
    const listed = await query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'");
    expect(listed.body).toMatchObject({ rows: [{ table_name: "items" }] });
  });
});
