import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { ConnectError } from "@connectrpc/connect";
import { reasonOf } from "../src/errors/catalogue.js";
import { ErrorInfoSchema } from "../gen/google/rpc/error_details_pb.js";
import type { Principal, Scope } from "../src/auth/principal.js";
import { setupDatabaseRoles } from "../src/query/database-roles.js";
import { createQueryExecutor, type QueryExecutor, type QueryRequest } from "../src/query/executor.js";
import { queryRoles } from "../src/query/query-roles.js";
import { requestSetup, resolveAccess } from "../src/query/request-setup.js";
import type { JsonValue, QueryResult } from "../src/query/result-encoding.js";
import { scramVerifierMatches } from "../src/query/scram-verifier.js";
import { PipelineError, runPipeline } from "../src/query/statement-pipeline.js";
import { tenancyEventTrigger } from "../src/query/tenancy.js";
import { deriveAuthenticatorPassword } from "../src/query/authenticator.js";
import { testJwtSecret } from "./support/jwt-secret.js";

const serverUrl = process.env.HELIOS_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
// Roles are cluster-wide: every suite on this cluster must use the same authenticator password,
// which servers derive from their JWT secret.
const authenticatorPassword = deriveAuthenticatorPassword(testJwtSecret);

async function reachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

const available = await reachable();
if (!available) {
  console.warn(`query-database tests skipped: no PostgreSQL at ${serverUrl} (set HELIOS_TEST_DATABASE_URL)`);
}

function urlFor(database: string, user?: { name: string; password: string }): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  if (user) {
    url.username = user.name;
    url.password = user.password;
  }
  return url.toString();
}

function principal(tenantId: string, scopes: Scope[]): Principal {
  return { kind: "user", id: `${tenantId}-${scopes.join("-")}`, role: "authenticated", tenantId, scopes };
}

const acme = principal("acme", ["read", "write"]);
const acmeReader = principal("acme", ["read"]);
const globex = principal("globex", ["read", "write"]);
const acmeAdmin = principal("acme", ["read", "write", "admin"]);

interface Failure {
  reason: string;
  message: string;
  metadata: Record<string, string>;
}

describe("QueryService without a database", () => {
  it("reports an unreachable database as storage_unavailable", async () => {
    const executor = await createQueryExecutor({
      authenticatorUrl: "postgres://helios_authenticator@127.0.0.1:1/none",
      config: { statementTimeoutMs: 1000, rowCap: 10, maxSqlBytes: 1024, maxConcurrentPerTenant: 1, maxResultBytes: 1024 * 1024 },
      connectionTimeoutMs: 2000,
    });
    try {
      const error = await executor.execute({ principal: acme, sql: "SELECT 1" }).catch((e: unknown) => e);
      expect(reasonOf(ConnectError.from(error))).toBe("storage_unavailable");
      // The tenant's slot was given back.
      const again = await executor.execute({ principal: acme, sql: "SELECT 1" }).catch((e: unknown) => e);
      expect(reasonOf(ConnectError.from(again))).toBe("storage_unavailable");
    } finally {
      await executor.close();
    }
  });
});

describe.skipIf(!available)("QueryService database path", () => {
  const database = `helios_q_${randomBytes(5).toString("hex")}`;
  let server: pg.Client;
  let owner: pg.Client;
  let executor: QueryExecutor;
  let slowExecutor: QueryExecutor;
  const authenticatorUrl = urlFor(database, { name: queryRoles.authenticator, password: authenticatorPassword });

  const run = (request: Omit<QueryRequest, "principal">, as: Principal = acme): Promise<QueryResult> =>
    executor.execute({ ...request, principal: as });

  const rows = async (sql: string, as: Principal = acme, params?: JsonValue[]): Promise<Record<string, JsonValue>[]> =>
    (await run({ sql, params }, as)).rows as Record<string, JsonValue>[];

  async function failure(promise: Promise<unknown>): Promise<Failure> {
    try {
      await promise;
    } catch (error) {
      const connectError = ConnectError.from(error);
      const info = connectError.findDetails(ErrorInfoSchema)[0];
      return { reason: reasonOf(connectError), message: connectError.rawMessage, metadata: info?.metadata ?? {} };
    }
    throw new Error("expected the query to fail");
  }

  const fails = (sql: string, as: Principal = acme, extra: Omit<QueryRequest, "principal" | "sql"> = {}) =>
    failure(executor.execute({ sql, principal: as, ...extra }));

  beforeAll(async () => {
    server = new pg.Client(serverUrl);
    await server.connect();
    await server.query(`CREATE DATABASE ${database}`);
    owner = new pg.Client(urlFor(database));
    await owner.connect();
    // What the auth service and migrations would have created before QueryService starts.
    await owner.query(`
      CREATE SCHEMA auth;
      CREATE TABLE auth.users (id int PRIMARY KEY, email text, tenant_id text);
      INSERT INTO auth.users VALUES (1, 'a@acme.test', 'acme'), (2, 'g@globex.test', 'globex');
      CREATE TABLE orders (
        id serial PRIMARY KEY,
        tenant_id text NOT NULL,
        item text NOT NULL,
        amount numeric(12, 2) NOT NULL,
        code text UNIQUE
      );
      CREATE TABLE customers (id serial PRIMARY KEY, tenant_id text NOT NULL, name text NOT NULL);
      CREATE TABLE products (id int PRIMARY KEY, name text NOT NULL);
      CREATE TABLE ledger (id serial PRIMARY KEY, tenant_id text NOT NULL, note text);
      CREATE TYPE mood AS ENUM ('happy', 'sad');
      CREATE DOMAIN big_amount AS int8;`);
    await setupDatabaseRoles(owner, { authenticatorPassword });
    // Overlapping data: the same items, customer names and product ids in both tenants.
    await owner.query(`
      INSERT INTO orders (tenant_id, item, amount, code) VALUES
        ('acme', 'anvil', 10.50, 'A-1'), ('acme', 'rocket', 99.99, 'A-2'),
        ('globex', 'anvil', 20.00, 'G-1'), ('globex', 'doomsday device', 1000000.00, 'G-2'),
        ('globex', 'laser', 5.25, 'G-3');
      INSERT INTO customers (tenant_id, name) VALUES ('acme', 'Wile'), ('globex', 'Hank'), ('globex', 'Wile');
      INSERT INTO products VALUES (1, 'anvil'), (2, 'rocket');
      INSERT INTO ledger (tenant_id, note) VALUES ('acme', 'a1'), ('globex', 'g1'), ('globex', 'g2');
      ANALYZE orders;`);
    const config = { statementTimeoutMs: 1500, rowCap: 1000, maxSqlBytes: 64 * 1024, maxConcurrentPerTenant: 3, queueLength: 1, maxResultBytes: 1024 * 1024 };
    executor = await createQueryExecutor({ authenticatorUrl, config, poolSize: 8 });
    slowExecutor = await createQueryExecutor({
      authenticatorUrl,
      config: { ...config, statementTimeoutMs: 20_000, rowCap: 10_000 },
      poolSize: 2,
    });
  });

  afterAll(async () => {
    await executor?.close();
    await slowExecutor?.close();
    await owner?.end();
    if (server) {
      await server.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await server.end();
    }
  });

  describe("tenant isolation", () => {
    it("answers the guide's SELECT * FROM orders with each tenant's rows only", async () => {
      const forAcme = await rows("SELECT * FROM orders ORDER BY id");
      expect(forAcme.map((r) => [r.tenant_id, r.item])).toEqual([
        ["acme", "anvil"],
        ["acme", "rocket"],
      ]);
      const forGlobex = await rows("SELECT * FROM orders ORDER BY id", globex);
      expect(forGlobex.map((r) => r.item)).toEqual(["anvil", "doomsday device", "laser"]);
      expect(forGlobex.every((r) => r.tenant_id === "globex")).toBe(true);
    });

    it.each([
      ["aggregate", "SELECT count(*)::int AS n, sum(amount)::text AS s FROM orders", { n: 2, s: "110.49" }],
      ["join", "SELECT count(*)::int AS n FROM orders o JOIN customers c ON c.tenant_id <> o.tenant_id", { n: 0 }],
      [
        "cross join on shared names",
        "SELECT count(*)::int AS n FROM customers c1 JOIN customers c2 ON c1.name = c2.name",
        { n: 1 },
      ],
      ["subquery", "SELECT (SELECT count(*) FROM orders WHERE tenant_id = 'globex')::int AS n", { n: 0 }],
      ["EXISTS probe", "SELECT EXISTS (SELECT 1 FROM orders WHERE code = 'G-2') AS found", { found: false }],
      ["CTE", "WITH o AS (SELECT * FROM orders) SELECT count(*)::int AS n FROM o", { n: 2 }],
      ["UNION", "SELECT count(*)::int AS n FROM (SELECT item FROM orders UNION ALL SELECT name FROM customers) u", { n: 3 }],
      ["window function", "SELECT max(c)::int AS n FROM (SELECT count(*) OVER () AS c FROM orders) w", { n: 2 }],
      ["ORDER BY probe", "SELECT count(*)::int AS n FROM orders WHERE amount > 999", { n: 0 }],
      ["tenant filter bypass attempt", "SELECT count(*)::int AS n FROM orders WHERE tenant_id = 'globex' OR true", { n: 2 }],
      ["shared table", "SELECT count(*)::int AS n FROM products", { n: 2 }],
    ])("%s sees nothing of another tenant", async (_label, sql, expected) => {
      expect(await rows(sql)).toEqual([expected]);
    });

    it("keeps UPDATE and DELETE, also in data-modifying CTEs, inside the tenant", async () => {
      const updated = await run({ sql: "UPDATE ledger SET note = 'touched'" });
      expect(updated).toMatchObject({ command: "UPDATE", row_count: 1 });
      const deleted = await run({ sql: "DELETE FROM ledger WHERE tenant_id = 'globex'" });
      expect(deleted).toMatchObject({ command: "DELETE", row_count: 0 });
      const cte = await rows("WITH d AS (DELETE FROM ledger WHERE note LIKE 'g%' RETURNING *) SELECT count(*)::int AS n FROM d");
      expect(cte).toEqual([{ n: 0 }]);
      const globexRows = await owner.query("SELECT note FROM ledger WHERE tenant_id = 'globex' ORDER BY id");
      expect(globexRows.rows).toEqual([{ note: "g1" }, { note: "g2" }]);
    });

    it("fills tenant_id on INSERT, and refuses another tenant's id or moving a row", async () => {
      const inserted = await run({ sql: "INSERT INTO ledger (note) VALUES ($1) RETURNING tenant_id, note", params: ["mine"] });
      expect(inserted.rows).toEqual([{ tenant_id: "acme", note: "mine" }]);
      expect(inserted).toMatchObject({ command: "INSERT", row_count: 1 });
      const foreign = await fails("INSERT INTO ledger (tenant_id, note) VALUES ('globex', 'planted')");
      expect(foreign).toMatchObject({ reason: "sql_error", metadata: { sqlstate: "42501" } });
      expect(foreign.message).toMatch(/row-level security/);
      const moved = await fails("UPDATE ledger SET tenant_id = 'globex' WHERE note = 'mine'");
      expect(moved).toMatchObject({ reason: "sql_error", metadata: { sqlstate: "42501" } });
      const viaCte = await fails("WITH i AS (INSERT INTO ledger (tenant_id, note) VALUES ('globex', 'x') RETURNING 1) SELECT * FROM i");
      expect(viaCte.metadata.sqlstate).toBe("42501");
      const planted = await owner.query("SELECT count(*)::int AS n FROM ledger WHERE note IN ('planted', 'x') OR (tenant_id = 'globex' AND note = 'mine')");
      expect(planted.rows[0].n).toBe(0);
    });

    it("lets an admin see every tenant, or one with X-Tenant-ID", async () => {
      expect(await rows("SELECT count(*)::int AS n FROM orders", acmeAdmin)).toEqual([{ n: 5 }]);
      const scoped = await run({ sql: "SELECT DISTINCT tenant_id FROM orders", tenantOverride: "globex" }, acmeAdmin);
      expect(scoped.rows).toEqual([{ tenant_id: "globex" }]);
      const insert = await run(
        { sql: "INSERT INTO ledger (note) VALUES ('by admin') RETURNING tenant_id", tenantOverride: "globex" },
        acmeAdmin,
      );
      expect(insert.rows).toEqual([{ tenant_id: "globex" }]);
    });

    it("refuses X-Tenant-ID from a non-admin, even naming its own tenant", async () => {
      for (const tenantOverride of ["globex", "acme"]) {
        expect(await fails("SELECT 1", acme, { tenantOverride })).toMatchObject({
          reason: "cross_tenant_forbidden",
        });
      }
    });

    it("hides the auth schema from users and admins", async () => {
      for (const who of [acme, acmeAdmin]) {
        const denied = await fails("SELECT * FROM auth.users", who);
        expect(denied).toMatchObject({ reason: "sql_error", metadata: { sqlstate: "42501" } });
      }
      expect(await rows("SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'auth'")).toEqual([
        { n: 0 },
      ]);
    });

    it("leaks no statistics or other sessions' SQL", async () => {
      expect(await rows("SELECT count(*)::int AS n FROM pg_stats WHERE tablename = 'orders'")).toEqual([{ n: 0 }]);
      const ownerPid = (await owner.query("SELECT pg_backend_pid() AS pid, 'secret-marker' AS m")).rows[0].pid;
      const seen = await rows("SELECT query FROM pg_stat_activity WHERE pid = $1", acme, [ownerPid]);
      expect(seen).toEqual([{ query: "<insufficient privilege>" }]);
    });
  });

  describe("escapes", () => {
    it.each([
      "SELECT set_config('request.tenant_id', 'globex', true)",
      "SELECT set_config('request.all_tenants', 'on', true)",
      "SELECT set_config('role', 'postgres', true)",
      "SELECT set_config('role', 'helios_admin', false)",
      "WITH x AS (SELECT set_config('request.tenant_id', 'globex', true)) SELECT * FROM orders, x",
      "SELECT * FROM orders WHERE set_config('request.tenant_id', 'globex', true) IS NOT NULL",
      "SELECT pg_advisory_lock(42)",
      "SELECT lo_create(0)",
      "SELECT pg_notify('helios', 'x')",
      "SELECT pg_read_file('/etc/passwd')",
      "SELECT pg_ls_dir('.')",
    ])("denies by privilege: %s", async (sql) => {
      expect(await fails(sql)).toMatchObject({ reason: "sql_error", metadata: { sqlstate: "42501" } });
    });

    it("cannot cancel or terminate other sessions", async () => {
      const other = new pg.Client(authenticatorUrl);
      await other.connect();
      try {
        const pid = (await other.query("SELECT pg_backend_pid() AS pid")).rows[0].pid;
        for (const sql of ["SELECT pg_cancel_backend($1)", "SELECT pg_terminate_backend($1)"]) {
          const denied = await failure(run({ sql, params: [pid] }));
          expect(denied).toMatchObject({ reason: "sql_error", metadata: { sqlstate: "42501" } });
        }
        expect((await other.query("SELECT 1 AS alive")).rows).toEqual([{ alive: 1 }]);
      } finally {
        await other.end();
      }
    });

    it("cannot run RESET through a function that executes SQL text", async () => {
      const failureInfo = await fails("SELECT query_to_xml('reset role', true, false, '')");
      expect(failureInfo.reason).toBe("sql_error");
      expect(failureInfo.message).toMatch(/RESET is not allowed/);
    });

    it.each([
      "RESET ROLE",
      "SET ROLE postgres",
      "SET ROLE helios_admin",
      "SET SESSION AUTHORIZATION postgres",
      "SET request.tenant_id = 'globex'",
      "SET statement_timeout = 0",
      "BEGIN",
      "COMMIT",
      "ROLLBACK",
      "DO $$ BEGIN PERFORM 1; END $$",
      "COPY orders TO STDOUT",
      "CALL anything()",
      "LISTEN channel",
      "NOTIFY channel",
      "PREPARE q AS SELECT 1",
      "EXECUTE q",
      "SELECT 1; RESET ROLE",
      "SELECT 1; SELECT * FROM orders",
      "SELECT $$;$$; RESET ROLE",
      "UPDATE pg_settings SET setting = 'globex' WHERE name = 'request.tenant_id'",
    ])("refuses before the database: %s", async (sql) => {
      expect((await fails(sql, acmeAdmin)).reason).toBe("statement_not_allowed");
    });

    it("lands on a role without privileges if the role is ever reset", async () => {
      const raw = new pg.Client(authenticatorUrl);
      await raw.connect();
      try {
        expect((await raw.query("SELECT current_user AS u")).rows).toEqual([{ u: queryRoles.authenticator }]);
        for (const sql of ["SELECT * FROM orders", "SELECT * FROM products", "SELECT * FROM auth.users"]) {
          await expect(raw.query(sql)).rejects.toMatchObject({ code: "42501" });
        }
      } finally {
        await raw.end();
      }
    });

    it("sends statements over the extended protocol, where the server refuses several statements", async () => {
      const raw = new pg.Client(authenticatorUrl);
      await raw.connect();
      try {
        // node-postgres' own default for a parameterless query is the simple protocol: two results.
        const simple = (await raw.query("SELECT 1 AS a; SELECT 2 AS b")) as unknown as unknown[];
        expect(Array.isArray(simple)).toBe(true);
        const access = resolveAccess(acme);
        const attempt = runPipeline(raw, {
          setup: requestSetup(access, 1000),
          statement: { text: "SELECT 1; RESET ROLE", values: [] },
          maxRows: 10,
        });
        await expect(attempt).rejects.toBeInstanceOf(PipelineError);
        await expect(attempt).rejects.toMatchObject({
          stage: "statement",
          cause: { code: "42601" },
          message: "cannot insert multiple commands into a prepared statement",
        });
      } finally {
        await raw.end();
      }
    });

    it("leaves no role, claim or setting behind on the pooled connection", async () => {
      const raw = new pg.Client(authenticatorUrl);
      await raw.connect();
      try {
        const outcome = await runPipeline(raw, {
          setup: requestSetup(resolveAccess(acme), 1000),
          statement: {
            text: "SELECT current_user AS u, current_setting('request.tenant_id') AS t, current_setting('statement_timeout') AS s",
            values: [],
          },
          maxRows: 10,
        });
        expect(outcome.rows).toEqual([[queryRoles.user, "acme", "1s"]]);
        const after = await raw.query(
          "SELECT current_user AS u, coalesce(current_setting('request.tenant_id', true), '') AS t, current_setting('statement_timeout') AS s",
        );
        expect(after.rows).toEqual([{ u: queryRoles.authenticator, t: "", s: "0" }]);
      } finally {
        await raw.end();
      }
    });
  });

  describe("scopes and read-only", () => {
    it("runs read scope in a READ ONLY transaction", async () => {
      expect((await fails("INSERT INTO ledger (note) VALUES ('x')", acmeReader)).reason).toBe("insufficient_scope");
      expect((await fails("WITH d AS (DELETE FROM ledger RETURNING 1) SELECT * FROM d", acmeReader)).reason).toBe(
        "insufficient_scope",
      );
      const nextval = await fails("SELECT nextval('ledger_id_seq')", acmeReader);
      expect(nextval).toMatchObject({ reason: "sql_error", metadata: { sqlstate: "25006" } });
    });

    it("runs GET requests read-only whatever the scope", async () => {
      expect((await fails("DELETE FROM ledger", acmeAdmin, { readOnly: true })).reason).toBe("statement_not_allowed");
      const nextval = await fails("SELECT nextval('ledger_id_seq')", acmeAdmin, { readOnly: true });
      expect(nextval.metadata.sqlstate).toBe("25006");
      expect((await run({ sql: "SELECT 1 AS one", readOnly: true }, acmeAdmin)).rows).toEqual([{ one: 1 }]);
    });

    it("keeps TRUNCATE and DDL for admins", async () => {
      expect((await fails("TRUNCATE ledger")).reason).toBe("insufficient_scope");
      expect((await fails("CREATE TABLE t (id int)")).reason).toBe("insufficient_scope");
      await run({ sql: "CREATE TABLE scratch (id int, tenant_id text)" }, acmeAdmin);
      expect(await run({ sql: "TRUNCATE scratch" }, acmeAdmin)).toMatchObject({ command: "TRUNCATE TABLE" });
    });
  });

  describe("tables and views created later", () => {
    async function security(table: string): Promise<{ rls: boolean; forced: boolean; policies: string[]; def: string | null }> {
      const result = await owner.query(
        `SELECT c.relrowsecurity AS rls, c.relforcerowsecurity AS forced,
                ARRAY(SELECT polname::text FROM pg_policy WHERE polrelid = c.oid ORDER BY polname) AS policies,
                pg_get_expr(d.adbin, d.adrelid) AS def
           FROM pg_class c
           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id'
           LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
          WHERE c.oid = $1::regclass`,
        [table],
      );
      return result.rows[0];
    }

    it("secures a table an admin creates, forced although helios_admin owns it", async () => {
      await run({ sql: "CREATE TABLE notes (id serial PRIMARY KEY, tenant_id text, body text)" }, acmeAdmin);
      const state = await security("notes");
      expect(state).toMatchObject({ rls: true, forced: true, policies: ["helios_all_tenants", "helios_tenant"] });
      expect(state.def).toMatch(/request\.tenant_id/);
      await run({ sql: "INSERT INTO notes (body) VALUES ('acme note')" });
      await run({ sql: "INSERT INTO notes (body) VALUES ('globex note')" }, globex);
      expect(await rows("SELECT body FROM notes")).toEqual([{ body: "acme note" }]);
      // The owner is affected too: FORCE applies to helios_admin with a scoped claim.
      expect((await run({ sql: "SELECT body FROM notes", tenantOverride: "globex" }, acmeAdmin)).rows).toEqual([
        { body: "globex note" },
      ]);
    });

    it("secures tables added by ALTER TABLE, CREATE TABLE AS and directly in the database", async () => {
      await run({ sql: "CREATE TABLE later (id int)" }, acmeAdmin);
      await run({ sql: "ALTER TABLE later ADD COLUMN tenant_id text" }, acmeAdmin);
      expect(await security("later")).toMatchObject({ rls: true, forced: true });
      await run({ sql: "CREATE TABLE copied AS SELECT id, tenant_id, item FROM orders" }, acmeAdmin);
      expect(await security("copied")).toMatchObject({ rls: true, forced: true });
      expect(await rows("SELECT count(*)::int AS n FROM copied")).toEqual([{ n: 2 }]);
      await owner.query("CREATE TABLE direct (id int, tenant_id varchar(20))");
      expect(await security("direct")).toMatchObject({ rls: true, forced: true });
    });

    it("falls back to syncing after admin DDL when there is no event trigger", async () => {
      await owner.query(`DROP EVENT TRIGGER ${tenancyEventTrigger}`);
      try {
        await run({ sql: "CREATE TABLE untriggered (id int, tenant_id text)" }, acmeAdmin);
        expect(await security("untriggered")).toMatchObject({ rls: true, forced: true });
      } finally {
        const report = await setupDatabaseRoles(owner, { authenticatorPassword });
        expect(report.eventTrigger).toBe(true);
      }
    });

    it("applies RLS through views: admins must create them security_invoker", async () => {
      const refused = await fails("CREATE VIEW all_orders AS SELECT * FROM orders", acmeAdmin);
      expect(refused.reason).toBe("statement_not_allowed");
      await run({ sql: "CREATE VIEW my_orders WITH (security_invoker = true) AS SELECT * FROM orders" }, acmeAdmin);
      expect(await rows("SELECT count(*)::int AS n FROM my_orders")).toEqual([{ n: 2 }]);
      // A view the owner (a superuser, who bypasses RLS) makes is turned security_invoker at once.
      await owner.query("CREATE VIEW owner_orders AS SELECT * FROM orders");
      expect(await rows("SELECT count(*)::int AS n FROM owner_orders", globex)).toEqual([{ n: 3 }]);
      expect((await fails("ALTER VIEW my_orders SET (security_invoker = false)", acmeAdmin)).reason).toBe(
        "statement_not_allowed",
      );
    });
  });

  describe("bounds", () => {
    it("cancels statements at the statement timeout", async () => {
      const timedOut = await fails("SELECT pg_sleep(5)");
      expect(timedOut).toMatchObject({ reason: "query_timeout", metadata: { sqlstate: "57014" } });
      expect((await rows("SELECT 1 AS ok"))[0]).toEqual({ ok: 1 });
    });

    it("truncates 10 million rows at the cap without buffering them", async () => {
      const before = process.memoryUsage().heapUsed;
      for (const sql of ["SELECT generate_series(1, 10000000) AS n", "SELECT * FROM generate_series(1, 10000000) AS g(n)"]) {
        const result = await slowExecutor.execute({ principal: acme, sql });
        expect(result.truncated).toBe(true);
        expect(result.row_count).toBe(10_000);
        expect(result.rows).toHaveLength(10_000);
        expect((result.rows as Record<string, JsonValue>[])[9_999]).toEqual({ n: 10_000 });
      }
      expect(process.memoryUsage().heapUsed - before).toBeLessThan(64 * 1024 * 1024);
    });

    it("marks truncation exactly at the cap", async () => {
      expect((await run({ sql: "SELECT generate_series(1, 1000)" })).truncated).toBe(false);
      expect((await run({ sql: "SELECT generate_series(1, 1001)" })).truncated).toBe(true);
    });

    it("caps concurrent queries per tenant: beyond the cap they wait, beyond the queue they are refused", async () => {
      const sleeps = Array.from({ length: 5 }, () => run({ sql: "SELECT pg_sleep(0.4)" }).then(() => "ok", (e) => e));
      const other = run({ sql: "SELECT 1" }, globex);
      const results = await Promise.all(sleeps);
      const refused = results.filter((r) => r !== "ok").map((e) => ConnectError.from(e));
      expect(refused.map(reasonOf)).toEqual(["too_many_queries"]);
      expect(refused[0]?.message).toContain("--query-queue-length");
      expect(refused[0]?.metadata.get("retry-after")).toBe("1");
      await expect(other).resolves.toMatchObject({ row_count: 1 });
    });
  });

  describe("statements prepared per connection", () => {
    let single: QueryExecutor;
    const limits = { entries: 3, maxTextLength: 8192 };
    beforeAll(async () => {
      const config = { statementTimeoutMs: 1500, rowCap: 1000, maxSqlBytes: 64 * 1024, maxConcurrentPerTenant: 1, maxResultBytes: 1024 * 1024 };
      // One connection, so every statement below meets what the previous ones left prepared.
      single = await createQueryExecutor({ authenticatorUrl, config, poolSize: 1, preparedStatements: limits });
    });
    afterAll(() => single?.close());

    const on = (sql: string, as: Principal = acme) => single.execute({ sql, principal: as });

    it("keeps tenants apart when one prepared text serves them in turn (past the switch to a generic plan)", async () => {
      const sql = "SELECT tenant_id, item FROM orders WHERE amount > $1 ORDER BY id";
      for (let i = 0; i < 8; i++) {
        for (const [who, tenant] of [[acme, "acme"], [globex, "globex"]] as const) {
          const result = await single.execute({ sql, params: [0], principal: who });
          expect(result.rows.length).toBeGreaterThan(0);
          expect((result.rows as Record<string, JsonValue>[]).every((row) => row.tenant_id === tenant)).toBe(true);
        }
        const all = await single.execute({ sql, params: [0], principal: acmeAdmin });
        expect(new Set((all.rows as Record<string, JsonValue>[]).map((row) => row.tenant_id))).toEqual(new Set(["acme", "globex"]));
      }
    });

    it("re-parses a statement whose columns DDL changed, once, without failing the request", async () => {
      await owner.query("CREATE TABLE IF NOT EXISTS prep_shapes (id int PRIMARY KEY, tenant_id text NOT NULL DEFAULT 'acme')");
      await owner.query("GRANT SELECT ON prep_shapes TO helios_user");
      await owner.query("INSERT INTO prep_shapes (id, tenant_id) VALUES (1, 'acme') ON CONFLICT DO NOTHING");
      expect((await on("SELECT * FROM prep_shapes")).columns.map((c) => c.name)).toEqual(["id", "tenant_id"]);
      expect((await on("SELECT * FROM prep_shapes")).columns.map((c) => c.name)).toEqual(["id", "tenant_id"]);
      await owner.query("ALTER TABLE prep_shapes ADD COLUMN note text DEFAULT 'n'");
      const after = await on("SELECT * FROM prep_shapes");
      expect(after.columns.map((c) => c.name)).toEqual(["id", "tenant_id", "note"]);
      expect(after.rows).toEqual([{ id: 1, tenant_id: "acme", note: "n" }]);
    });

    it("holds at most its bound of statements on the connection, and keeps a good one after a failed execution", async () => {
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 6; i++) expect((await on(`SELECT ${i} AS n`)).rows).toEqual([{ n: i }]);
      }
      const held = await on("SELECT count(*)::int AS n FROM pg_catalog.pg_prepared_statements");
      // The setup statement, the bound of user statements (this one included).
      expect((held.rows as Record<string, JsonValue>[])[0]?.n).toBeLessThanOrEqual(1 + limits.entries + 1);
      const divide = "SELECT 1 / $1::int AS q";
      expect((await single.execute({ sql: divide, params: [1], principal: acme })).rows).toEqual([{ q: 1 }]);
      await expect(single.execute({ sql: divide, params: [0], principal: acme })).rejects.toThrow(/division by zero/);
      expect((await single.execute({ sql: divide, params: [1], principal: acme })).rows).toEqual([{ q: 1 }]);
    });
  });

  describe("errors", () => {
    it("returns the SQLSTATE and message, and no DETAIL quoting another tenant's key", async () => {
      const missing = await fails("SELECT * FROM nope");
      expect(missing).toMatchObject({ reason: "sql_error", metadata: { sqlstate: "42P01", position: "15" } });
      expect(missing.message).toBe('relation "nope" does not exist');
      const duplicate = await fails("INSERT INTO orders (item, amount, code) VALUES ('x', 1, 'G-2')");
      expect(duplicate.metadata.sqlstate).toBe("23505");
      expect(duplicate.message).not.toMatch(/G-2|Key \(/);
      expect((await fails("SELECT 1/0")).metadata.sqlstate).toBe("22012");
    });
  });

  describe("types", () => {
    it("encodes PostgreSQL values as JSON without loss", async () => {
      const result = await run({
        sql: `SELECT 9007199254740993::int8 AS big, 42::int8 AS small, 12345678901234567890.123::numeric AS exact,
                     1.50::numeric AS price, 2.5::float8 AS f, 'NaN'::float8 AS nan, true AS yes,
                     '2024-01-02 03:04:05.123456+00'::timestamptz AS ts, '2024-01-02 03:04:05'::timestamp AS local,
                     '2024-02-29'::date AS d, '12:30:00'::time AS t, '1 day 02:03:04'::interval AS i,
                     '\\x00ff'::bytea AS bin, '{"a": [1, null]}'::jsonb AS doc, '[1, "x"]'::json AS list,
                     ARRAY[1, NULL, 3] AS ints, ARRAY['a,b', 'c"d'] AS texts, ARRAY[ARRAY[1.5, 2]] AS grid,
                     ARRAY['2024-01-02 00:00:00+00'::timestamptz] AS stamps,
                     'happy'::mood AS m, ARRAY['sad'::mood] AS moods, 5::big_amount AS dom,
                     '6f1e3c3a-1b2c-4d5e-8f90-123456789abc'::uuid AS u, '10.0.0.1'::inet AS ip, NULL::text AS nothing`,
      });
      expect(result.rows).toEqual([
        {
          big: "9007199254740993",
          small: 42,
          exact: "12345678901234567890.123",
          price: 1.5,
          f: 2.5,
          nan: "NaN",
          yes: true,
          ts: "2024-01-02T03:04:05.123456Z",
          local: "2024-01-02T03:04:05",
          d: "2024-02-29",
          t: "12:30:00",
          i: "P1DT2H3M4S",
          bin: "AP8=",
          doc: { a: [1, null] },
          list: [1, "x"],
          ints: [1, null, 3],
          texts: ["a,b", 'c"d'],
          grid: [[1.5, 2]],
          stamps: ["2024-01-02T00:00:00Z"],
          m: "happy",
          moods: ["sad"],
          dom: 5,
          u: "6f1e3c3a-1b2c-4d5e-8f90-123456789abc",
          ip: "10.0.0.1",
          nothing: null,
        },
      ]);
      expect(Object.fromEntries(result.columns.map((c) => [c.name, c.type]))).toMatchObject({
        big: "int8",
        exact: "numeric",
        ts: "timestamptz",
        bin: "bytea",
        doc: "jsonb",
        ints: "int4[]",
        m: "mood",
        moods: "mood[]",
        // RowDescription reports a domain by its base type.
        dom: "int8",
        u: "uuid",
      });
    });

    it("takes params of every JSON type", async () => {
      const result = await run({
        sql: `SELECT $1::int AS i, $2::text AS t, $3::bool AS b, $4::numeric AS n, $5::jsonb AS obj, $6::jsonb AS arr,
                     $7::int8 AS big, $8::timestamptz AS ts, $9::text AS nul, $10::int[] AS pgarr, $11::float8 AS f,
                     $12 AS untyped`,
        params: [42, "hello", true, 1.25, { k: [1, 2] }, [1, "x"], "9007199254740993", "2024-01-02T03:04:05.5Z", null, "{1,2}", -0.5, "x"],
      });
      expect(result.rows).toEqual([
        {
          i: 42,
          t: "hello",
          b: true,
          n: 1.25,
          obj: { k: [1, 2] },
          arr: [1, "x"],
          big: "9007199254740993",
          ts: "2024-01-02T03:04:05.5Z",
          nul: null,
          pgarr: [1, 2],
          f: -0.5,
          untyped: "x",
        },
      ]);
    });

    it("returns arrays in array mode, for duplicate column names", async () => {
      const result = await run({ sql: "SELECT 1 AS a, 2 AS a", arrayMode: true });
      expect(result.rows).toEqual([[1, 2]]);
      expect(result.columns).toEqual([
        { name: "a", type: "int4" },
        { name: "a", type: "int4" },
      ]);
    });
  });

  describe("setup", () => {
    it("is idempotent and safe to run concurrently", async () => {
      const clients = [new pg.Client(urlFor(database)), new pg.Client(urlFor(database))];
      await Promise.all(clients.map((client) => client.connect()));
      try {
        const reports = await Promise.all(clients.map((client) => setupDatabaseRoles(client, { authenticatorPassword })));
        expect(reports.map((r) => r.eventTrigger)).toEqual([true, true]);
        expect(reports.map((r) => r.changed)).toEqual([0, 0]);
      } finally {
        await Promise.all(clients.map((client) => client.end()));
      }
      const stored = await owner.query("SELECT rolpassword FROM pg_authid WHERE rolname = $1", [queryRoles.authenticator]);
      expect(scramVerifierMatches(stored.rows[0].rolpassword, authenticatorPassword)).toBe(true);
    });

    it("computes SCRAM verifiers PostgreSQL agrees with", async () => {
      const role = `helios_q_scram_${randomBytes(4).toString("hex")}`;
      await owner.query("SET password_encryption = 'scram-sha-256'");
      await owner.query(`CREATE ROLE ${role} PASSWORD 'correct horse battery staple'`);
      try {
        const stored = await owner.query("SELECT rolpassword FROM pg_authid WHERE rolname = $1", [role]);
        expect(scramVerifierMatches(stored.rows[0].rolpassword, "correct horse battery staple")).toBe(true);
        expect(scramVerifierMatches(stored.rows[0].rolpassword, "wrong")).toBe(false);
      } finally {
        await owner.query(`DROP ROLE ${role}`);
      }
    });
  });
});
