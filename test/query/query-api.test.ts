import { createClient } from "@connectrpc/connect";
import { toJson } from "@bufbuild/protobuf";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QueryResponseSchema, QueryService } from "../../gen/helios/query/v1/query_pb.js";
import {
  generousLimits,
  rest,
  rpcFailure,
  rpcTransport,
  type RestResponse,
} from "../auth/support/auth-api.js";
import { backends, startTestServer, type TestServer } from "../support/server.js";
import { member, type Member } from "../support/members.js";

describe.each(backends)("QueryService on %s storage", (backend) => {
  let server: TestServer;
  let owner: pg.Client;
  let acme: Member, acmeAdmin: Member, globex: Member, globexAdmin: Member, acmeReader: Member;

  const query = (who: Member | undefined, sql: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
    rest(server.url, "POST", "/api/v1/query", {
      body: { sql, ...extra },
      headers: { ...(who ? { authorization: `Bearer ${who.token}` } : {}), ...headers },
    });
  const rows = async (who: Member, sql: string, extra: Record<string, unknown> = {}) => {
    const res = await query(who, sql, extra);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return (res.body as { rows: unknown[] }).rows;
  };
  const expectError = (res: RestResponse, status: number, error: string) => {
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    expect(res.body).toMatchObject({ error });
  };

  beforeAll(async () => {
    server = await startTestServer(backend, [
      ...generousLimits,
      "--statement-timeout", "0.5",
      "--row-cap", "1000",
      "--max-sql-bytes", "4096",
    ]);
    owner = new pg.Client({ connectionString: server.storage.ownerUrl });
    await owner.connect();
    [acme, acmeAdmin, globex, globexAdmin, acmeReader] = await Promise.all([
      member(server, owner, "acme", ["read", "write"]),
      member(server, owner, "acme", ["read", "write", "admin"]),
      member(server, owner, "globex", ["read", "write"]),
      member(server, owner, "globex", ["read", "write", "admin"]),
      member(server, owner, "acme", ["read"]),
    ]);
    // An admin creates the table through the API; tenancy applies to it automatically.
    expect((await query(acmeAdmin, "CREATE TABLE orders (id serial PRIMARY KEY, tenant_id text NOT NULL, item text, amount numeric)")).status).toBe(200);
    for (const [who, item] of [[acme, "anvil"], [acme, "rocket"], [globex, "widget"]] as const) {
      expect((await query(who, "INSERT INTO orders (item, amount) VALUES ($1, $2)", { params: [item, 10] })).status).toBe(200);
    }
  });
  afterAll(async () => {
    await owner?.end();
    await server?.close();
  });

  it("runs the guide's SELECT * FROM orders filtered to each tenant", async () => {
    const acmeRows = (await rows(acme, "SELECT * FROM orders ORDER BY id")) as { tenant_id: string; item: string }[];
    expect(acmeRows.map((row) => row.item)).toEqual(["anvil", "rocket"]);
    expect(new Set(acmeRows.map((row) => row.tenant_id))).toEqual(new Set(["acme"]));
    const globexRows = (await rows(globex, "SELECT * FROM orders")) as { item: string }[];
    expect(globexRows.map((row) => row.item)).toEqual(["widget"]);
  });

  it("answers the documented shape", async () => {
    const res = await query(acme, "SELECT id, item FROM orders WHERE item = $1", { params: ["anvil"] });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      columns: [{ name: "id", type: "int4" }, { name: "item", type: "text" }],
      rows: [{ id: expect.any(Number), item: "anvil" }],
      row_count: 1,
      command: "SELECT",
      truncated: false,
    });
    const arrays = await query(acme, "SELECT 1 AS a, 2 AS a", { array_mode: true });
    expect(arrays.body).toMatchObject({ rows: [[1, 2]] });
  });

  it("keeps writes inside the caller's tenant", async () => {
    expectError(await query(acme, "INSERT INTO orders (tenant_id, item) VALUES ('globex', 'smuggled')"), 400, "sql_error");
    const moved = await query(acme, "UPDATE orders SET tenant_id = 'globex' WHERE item = 'anvil'");
    expectError(moved, 400, "sql_error");
    const deleted = await query(acme, "DELETE FROM orders WHERE item = 'widget'");
    expect(deleted.body).toMatchObject({ row_count: 0, command: "DELETE" });
    const cte = await query(acme, "WITH gone AS (DELETE FROM orders WHERE tenant_id = 'globex' RETURNING *) SELECT count(*)::int AS n FROM gone");
    expect(cte.body).toMatchObject({ rows: [{ n: 0 }] });
    expect(await rows(globex, "SELECT item FROM orders")).toEqual([{ item: "widget" }]);
  });

  it.each([
    ["RESET ROLE", "RESET ROLE"],
    ["SET ROLE", "SET ROLE postgres"],
    ["SET SESSION AUTHORIZATION", "SET SESSION AUTHORIZATION postgres"],
    ["several statements", "SELECT 1; DELETE FROM orders"],
    ["a comment hiding a statement", "SELECT 1 /* ; */; DELETE FROM orders --"],
    ["BEGIN", "BEGIN"],
    ["DO", "DO $$ BEGIN PERFORM 1; END $$"],
    ["COPY", "COPY orders TO STDOUT"],
    ["LISTEN", "LISTEN x"],
    ["PREPARE", "PREPARE p AS SELECT 1"],
    ["SET", "SET statement_timeout = 0"],
  ])("refuses %s with 403 statement_not_allowed", async (_name, sql) => {
    expectError(await query(acme, sql), 403, "statement_not_allowed");
  });

  it.each([
    ["the tenant claim", "SELECT set_config('request.tenant_id', 'globex', true), count(*) FROM orders"],
    ["the role", "SELECT set_config('role', 'postgres', true)"],
  ])("refuses set_config on %s", async (_name, sql) => {
    const res = await query(acme, sql);
    expectError(res, 400, "sql_error");
    expect(res.body).toMatchObject({ sqlstate: "42501" });
  });

  it("never shows the auth schema", async () => {
    expectError(await query(acme, "SELECT * FROM auth.users"), 400, "sql_error");
    expectError(await query(acmeAdmin, "SELECT * FROM auth.users"), 400, "sql_error");
  });

  it("enforces scopes: read cannot write, write cannot run DDL", async () => {
    expectError(await query(acmeReader, "INSERT INTO orders (item) VALUES ('x')"), 403, "insufficient_scope");
    expect(await rows(acmeReader, "SELECT count(*)::int AS n FROM orders")).toEqual([{ n: 2 }]);
    expectError(await query(acme, "CREATE TABLE t (id int)"), 403, "insufficient_scope");
    expectError(await query(acme, "TRUNCATE orders"), 403, "insufficient_scope");
  });

  it("serves GET read-only whatever the scope", async () => {
    const sql = encodeURIComponent("SELECT item FROM orders ORDER BY item");
    const ok = await rest(server.url, "GET", `/api/v1/query?sql=${sql}`, { headers: { authorization: `Bearer ${acme.token}` } });
    expect(ok.body).toMatchObject({ rows: [{ item: "anvil" }, { item: "rocket" }] });
    const params = encodeURIComponent(JSON.stringify(["rocket"]));
    const withParams = await rest(server.url, "GET", `/api/v1/query?sql=${encodeURIComponent("SELECT item FROM orders WHERE item = $1")}&params=${params}`, {
      headers: { authorization: `Bearer ${acme.token}` },
    });
    expect(withParams.body).toMatchObject({ rows: [{ item: "rocket" }] });
    const write = await rest(server.url, "GET", `/api/v1/query?sql=${encodeURIComponent("DELETE FROM orders")}`, {
      headers: { authorization: `Bearer ${acmeAdmin.token}` },
    });
    expectError(write, 403, "statement_not_allowed");
  });

  it("lets admins see all tenants, or exactly one with X-Tenant-ID", async () => {
    expect(await rows(acmeAdmin, "SELECT DISTINCT tenant_id FROM orders ORDER BY 1")).toEqual([
      { tenant_id: "acme" },
      { tenant_id: "globex" },
    ]);
    const scoped = await query(acmeAdmin, "SELECT DISTINCT tenant_id FROM orders", {}, { "x-tenant-id": "globex" });
    expect(scoped.body).toMatchObject({ rows: [{ tenant_id: "globex" }] });
    expectError(await query(acme, "SELECT 1", {}, { "x-tenant-id": "globex" }), 403, "cross_tenant_forbidden");
    expect(globexAdmin.tenant).toBe("globex");
  });

  it("maps SQL errors, timeouts, size and row caps to catalogue errors", async () => {
    const bad = await query(acme, "SELECT * FROM no_such_table");
    expectError(bad, 400, "sql_error");
    expect(bad.body).toMatchObject({ sqlstate: "42P01" });
    expectError(await query(acme, "SELECT pg_sleep(5)"), 408, "query_timeout");
    expectError(await query(acme, `SELECT '${"x".repeat(5000)}'`), 413, "sql_too_large");
    // The target-list form streams; `FROM generate_series(...)` materialises first and would meet
    // this suite's 0.5 s timeout (test/query-database.test.ts runs that form with the default one).
    const big = await query(acme, "SELECT generate_series(1, 10000000) AS g");
    expect(big.status).toBe(200);
    expect(big.body).toMatchObject({ truncated: true, row_count: 1000 });
    expectError(await query(acme, ""), 400, "validation_failed");
    expectError(await query(undefined, "SELECT 1"), 401, "unauthorized");
  });

  it("maps PostgreSQL types without loss and takes params of every JSON type", async () => {
    const res = await query(
      acme,
      `SELECT 9007199254740993::int8 AS big, 42::int8 AS small, 12345678901234567890.5::numeric AS num,
              '2024-01-02T03:04:05.123456Z'::timestamptz AS ts, '\\xdeadbeef'::bytea AS bin,
              '{"a":[1,true,null]}'::jsonb AS doc, ARRAY[1,2,3] AS arr, NULL::text AS nothing,
              $1::text AS s, $2::int AS i, $3::boolean AS b, $4::jsonb AS o, $5::text IS NULL AS n`,
      { params: ["text", 7, true, { k: [1, "two"] }, null] },
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect((res.body as { rows: unknown[] }).rows[0]).toEqual({
      big: "9007199254740993",
      small: 42,
      num: "12345678901234567890.5",
      ts: "2024-01-02T03:04:05.123456Z",
      bin: Buffer.from("deadbeef", "hex").toString("base64"),
      doc: { a: [1, true, null] },
      arr: [1, 2, 3],
      nothing: null,
      s: "text",
      i: 7,
      b: true,
      o: { k: [1, "two"] },
      n: true,
    });
  });

  it("writes the same rows over REST as over Connect and gRPC, where REST skips building Values", async () => {
    // As the JSON text carries it (-0 is written 0).
    const asWritten = (json: unknown): unknown => JSON.parse(JSON.stringify(json));
    const sql = `SELECT -0::float8 AS negative_zero, 'NaN'::float8 AS nan, 1e300::float8 AS huge, 0.1::float4 AS small,
              '{"a":[[],{},[null,[-1.5e-7]]],"é":"\\u2028\\u0007"}'::jsonb AS doc,
              'null'::json AS json_null, '"quoted \\\\ \\"text\\""'::jsonb AS json_text, '[1e20, 123456789012]'::jsonb AS json_numbers,
              ARRAY[ARRAY['a"b', NULL], ARRAY['{}', 'c,d']] AS nested, ARRAY[]::int[] AS empty, '\\x'::bytea AS no_bytes,
              'infinity'::timestamptz AS forever, '12:30:00+05:30'::timetz AS noon, 1::int8 AS n, true AS t, 'ü😀'::text AS emoji
       FROM generate_series(1, 3)`;
    const viaRest = await query(acme, sql);
    expect(viaRest.status, JSON.stringify(viaRest.body)).toBe(200);
    const headers = { authorization: `Bearer ${acme.token}` };
    for (const protocol of ["connect", "grpc"] as const) {
      const response = await createClient(QueryService, rpcTransport(protocol, server.url)).query({ sql }, { headers });
      expect(asWritten(toJson(QueryResponseSchema, response, { alwaysEmitImplicit: true }))).toEqual(viaRest.body);
    }
    // protobuf's own toJson loses a key "__proto__"; REST keeps it.
    const [withProto] = (await rows(acme, `SELECT '{"__proto__":{"x":1},"a":1}'::jsonb AS doc`)) as Array<{ doc: object }>;
    expect(Object.entries(withProto?.doc ?? {})).toEqual([["a", 1], ["__proto__", { x: 1 }]]);
    // Array mode: rows are arrays, the same way.
    const arrays = await query(acme, sql, { array_mode: true });
    const arraysRpc = await createClient(QueryService, rpcTransport("grpc", server.url)).query({ sql, arrayMode: true }, { headers });
    expect(asWritten(toJson(QueryResponseSchema, arraysRpc, { alwaysEmitImplicit: true }))).toEqual(arrays.body);
  });

  it.each(["connect", "grpc"] as const)("answers over %s with a typed message and the error model", async (protocol) => {
    const client = createClient(QueryService, rpcTransport(protocol, server.url));
    const headers = { authorization: `Bearer ${globex.token}` };
    const response = await client.query({ sql: "SELECT item FROM orders" }, { headers });
    expect(toJson(QueryResponseSchema, response)).toMatchObject({ rows: [{ item: "widget" }], command: "SELECT" });
    const refused = await client.query({ sql: "RESET ROLE" }, { headers }).catch(rpcFailure);
    expect(refused).toMatchObject({ reason: "statement_not_allowed" });
    const readOnly = await client.readQuery({ sql: "DELETE FROM orders" }, { headers }).catch(rpcFailure);
    expect(readOnly).toMatchObject({ reason: "statement_not_allowed" });
  });
});
