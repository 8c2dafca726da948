import { createClient } from "@connectrpc/connect";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QueryService } from "../../gen/helios/query/v1/query_pb.js";
import { generousLimits, rpcTransport, strongPassword, uniqueEmail, type SessionJson } from "../auth/support/auth-api.js";
import { adminRest, bearerHeader, cliKey, http, keyHeader, ok, refused, signIn, signUpWith } from "../admin/support/admin-api.js";
import { backends, startTestServer, type TestServer } from "../support/server.js";

type Headers = Record<string, string>;

/** A caller of the test world: the headers it sends, and its user id when it is a user. */
interface Caller {
  headers: Headers;
  id: string;
  email: string;
}

interface QueryBody {
  rows: Record<string, unknown>[];
  row_count: number;
  command: string;
  notices: string[];
}

describe.each(backends)("owned, shared and admin-ruled tables on %s storage", (backend) => {
  let server: TestServer;
  let owner: pg.Client;
  let adminKey: string;
  let alice: Caller, bob: Caller, carol: Caller, acmeAdmin: Caller, acmeKey: Caller;

  const query = (sql: string, who: Caller, extra: Headers = {}) =>
    http(server.url, "POST", "/api/v1/query", { body: { sql }, headers: { ...who.headers, ...extra } });
  const answer = async (sql: string, who: Caller, extra: Headers = {}) => ok<QueryBody>(await query(sql, who, extra));
  const rows = async (sql: string, who: Caller, extra: Headers = {}) => (await answer(sql, who, extra)).rows;
  const asAdminKey = (): Caller => ({ headers: keyHeader(adminKey), id: "", email: "" });
  /** The SQLSTATE of a refused statement (sql_error). */
  const sqlstate = async (sql: string, who: Caller) => {
    const res = await query(sql, who);
    refused(res, 400, "sql_error");
    return (res.body as { sqlstate?: string }).sqlstate;
  };

  async function member(publishableKey: string): Promise<Caller> {
    const email = uniqueEmail("rows");
    const session = ok<SessionJson>(await signUpWith(server.url, email, strongPassword(), { apikey: publishableKey }));
    return { headers: bearerHeader(session.access_token), id: session.user.id, email };
  }

  beforeAll(async () => {
    server = await startTestServer(backend, generousLimits);
    owner = new pg.Client({ connectionString: server.storage.ownerUrl });
    await owner.connect();
    adminKey = await cliKey(server);
    const admin = adminRest(server.url, adminKey);
    await Promise.all([admin.createTenant("acme"), admin.createTenant("globex")]);
    const acmeSignup = (await admin.createKey({ tenant_id: "acme", scopes: ["signup"] })).key;
    const globexSignup = (await admin.createKey({ tenant_id: "globex", scopes: ["signup"] })).key;
    [alice, bob, carol] = await Promise.all([member(acmeSignup), member(acmeSignup), member(globexSignup)]);
    // An admin user of acme: a member granted the admin scope, signed in again to carry it.
    const password = strongPassword();
    const email = uniqueEmail("acme-admin");
    const adminSession = ok<SessionJson>(await signUpWith(server.url, email, password, { apikey: acmeSignup }));
    ok(await admin.call("POST", `/admin/v1/users/${adminSession.user.id}/scopes/grant`, { scopes: ["admin"] }));
    acmeAdmin = { headers: bearerHeader((await signIn(server.url, email, password)).access_token), id: adminSession.user.id, email };
    acmeKey = { headers: keyHeader((await admin.createKey({ tenant_id: "acme", scopes: ["read", "write"] })).key), id: "", email: "" };

    const made = await answer("CREATE TABLE todos (id serial PRIMARY KEY, tenant_id text NOT NULL, owner_id uuid NOT NULL, title text NOT NULL)", asAdminKey());
    expect(made.notices).toEqual([expect.stringMatching(/^table todos is an owned table: each user reads and writes only its own rows/)]);
    for (const [who, title] of [[alice, "alice todo"], [bob, "bob todo"], [carol, "carol todo"]] as const) {
      ok(await query(`INSERT INTO todos (title) VALUES ('${title}')`, who));
    }
  });
  afterAll(async () => {
    await owner?.end();
    await server?.close();
  });

  describe("owned tables", () => {
    it("gives each user only its own rows, filled in on insert", async () => {
      expect(await rows("SELECT title, owner_id, tenant_id FROM todos", alice)).toEqual([{ title: "alice todo", owner_id: alice.id, tenant_id: "acme" }]);
      expect(await rows("SELECT title FROM todos", bob)).toEqual([{ title: "bob todo" }]);
      expect(await rows(`SELECT count(*)::int AS n FROM todos WHERE owner_id = '${alice.id}'`, bob)).toEqual([{ n: 0 }]);
    });

    it("lets no user update, delete or claim another's rows", async () => {
      expect(await answer("UPDATE todos SET title = 'defaced' WHERE title = 'bob todo'", alice)).toMatchObject({ row_count: 0 });
      expect(await answer(`UPDATE todos SET owner_id = '${alice.id}' WHERE title = 'bob todo'`, alice)).toMatchObject({ row_count: 0 });
      expect(await answer("DELETE FROM todos WHERE title <> 'alice todo'", alice)).toMatchObject({ row_count: 0 });
      expect(await answer("UPDATE todos SET title = title", alice)).toMatchObject({ row_count: 1 });
      const stored = await owner.query("SELECT title, owner_id FROM todos ORDER BY id");
      expect(stored.rows).toEqual([
        { title: "alice todo", owner_id: alice.id },
        { title: "bob todo", owner_id: bob.id },
        { title: "carol todo", owner_id: carol.id },
      ]);
    });

    it("refuses an insert or update that sets another user's id", async () => {
      expect(await sqlstate(`INSERT INTO todos (owner_id, title) VALUES ('${bob.id}', 'planted')`, alice)).toBe("42501");
      expect(await sqlstate(`UPDATE todos SET owner_id = '${bob.id}' WHERE title = 'alice todo'`, alice)).toBe("42501");
      expect(await sqlstate(`WITH i AS (INSERT INTO todos (owner_id, title) VALUES ('${carol.id}', 'x') RETURNING 1) SELECT * FROM i`, alice)).toBe(
        "42501",
      );
      expect((await owner.query("SELECT count(*)::int AS n FROM todos WHERE title IN ('planted', 'x')")).rows).toEqual([{ n: 0 }]);
    });

    it("shows a user of another tenant nothing, even its own id planted in the tenant", async () => {
      await owner.query("INSERT INTO todos (tenant_id, owner_id, title) VALUES ('acme', $1, 'misplaced')", [carol.id]);
      expect(await rows("SELECT title FROM todos", carol)).toEqual([{ title: "carol todo" }]);
      expect(await rows(`SELECT count(*)::int AS n FROM todos WHERE tenant_id = 'acme' OR owner_id = '${alice.id}'`, carol)).toEqual([{ n: 0 }]);
    });

    it("shows an API key without a user no owned rows, and lets it write none", async () => {
      expect(await rows("SELECT count(*)::int AS n FROM todos", acmeKey)).toEqual([{ n: 0 }]);
      expect(await sqlstate(`INSERT INTO todos (owner_id, title) VALUES ('${alice.id}', 'by key')`, acmeKey)).toBe("42501");
      expect(await answer("DELETE FROM todos", acmeKey)).toMatchObject({ row_count: 0 });
    });

    it("shows admins every row of the tenants they may see", async () => {
      expect(await rows("SELECT count(*)::int AS n FROM todos", asAdminKey())).toEqual([{ n: 4 }]);
      expect(await rows("SELECT count(*)::int AS n FROM todos", acmeAdmin)).toEqual([{ n: 4 }]);
      const scoped = await rows("SELECT title FROM todos ORDER BY id", acmeAdmin, { "x-tenant-id": "acme" });
      expect(scoped).toEqual([{ title: "alice todo" }, { title: "bob todo" }, { title: "misplaced" }]);
      expect(await answer(`INSERT INTO todos (owner_id, title) VALUES ('${bob.id}', 'assigned')`, acmeAdmin, { "x-tenant-id": "acme" })).toMatchObject({
        row_count: 1,
      });
      expect(await rows("SELECT title FROM todos ORDER BY id", bob)).toEqual([{ title: "bob todo" }, { title: "assigned" }]);
    });

    it("turns tables into owned ones when owner_id arrives later, and keeps tables without tenant_id per user", async () => {
      await answer("CREATE TABLE diary (id serial PRIMARY KEY, tenant_id text, body text)", asAdminKey());
      const altered = await answer("ALTER TABLE diary ADD COLUMN owner_id uuid", asAdminKey());
      expect(altered.notices).toEqual([expect.stringMatching(/^table diary is an owned table/)]);
      ok(await query("INSERT INTO diary (body) VALUES ('dear diary')", alice));
      expect(await rows("SELECT count(*)::int AS n FROM diary", bob)).toEqual([{ n: 0 }]);

      const notes = await answer("CREATE TABLE notes (id serial PRIMARY KEY, owner_id text, body text)", asAdminKey());
      expect(notes.notices).toEqual([expect.stringMatching(/^table notes is an owned table: each user reads and writes only its own rows \(owner_id\); admins/)]);
      ok(await query("INSERT INTO notes (body) VALUES ('alice note')", alice));
      ok(await query("INSERT INTO notes (body) VALUES ('carol note')", carol));
      expect(await rows("SELECT body, owner_id FROM notes", alice)).toEqual([{ body: "alice note", owner_id: alice.id }]);
      expect(await rows("SELECT body FROM notes", carol)).toEqual([{ body: "carol note" }]);
      expect(await answer("DELETE FROM notes", bob)).toMatchObject({ row_count: 0 });
      expect(await rows("SELECT count(*)::int AS n FROM notes", asAdminKey())).toEqual([{ n: 2 }]);
    });
  });

  describe("shared tables", () => {
    beforeAll(async () => {
      const made = await answer("CREATE TABLE products (id int PRIMARY KEY, name text NOT NULL)", asAdminKey());
      expect(made.notices).toEqual(["table products is a shared table: every tenant reads it, only admins write it (no tenant_id or owner_id column)"]);
      expect(server.logs()).toContain("table products is a shared table");
      ok(await query("INSERT INTO products VALUES (1, 'anvil'), (2, 'rocket')", asAdminKey()));
    });

    it("is readable by users of two tenants and writable by neither", async () => {
      for (const who of [alice, carol, acmeKey]) {
        expect(await rows("SELECT name FROM products ORDER BY id", who)).toEqual([{ name: "anvil" }, { name: "rocket" }]);
        expect(await sqlstate("INSERT INTO products VALUES (3, 'planted')", who)).toBe("42501");
        expect(await answer("UPDATE products SET name = 'defaced'", who)).toMatchObject({ row_count: 0 });
        expect(await answer("DELETE FROM products", who)).toMatchObject({ row_count: 0 });
      }
      expect((await owner.query("SELECT name FROM products ORDER BY id")).rows).toEqual([{ name: "anvil" }, { name: "rocket" }]);
    });

    it("is written by admins, scoped to a tenant or not", async () => {
      ok(await query("INSERT INTO products VALUES (3, 'laser')", acmeAdmin, { "x-tenant-id": "acme" }));
      expect(await answer("UPDATE products SET name = 'big laser' WHERE id = 3", asAdminKey())).toMatchObject({ row_count: 1 });
      expect(await rows("SELECT name FROM products WHERE id = 3", carol)).toEqual([{ name: "big laser" }]);
    });

    it("becomes a tenant table when tenant_id arrives", async () => {
      await answer("CREATE TABLE regions (id int, name text)", asAdminKey());
      ok(await query("INSERT INTO regions VALUES (1, 'north')", asAdminKey()));
      expect(await rows("SELECT count(*)::int AS n FROM regions", alice)).toEqual([{ n: 1 }]);
      const altered = await answer("ALTER TABLE regions ADD COLUMN tenant_id text", asAdminKey());
      expect(altered.notices).toEqual(["table regions is a tenant table: each tenant reads and writes only its own rows (tenant_id)"]);
      expect(await rows("SELECT count(*)::int AS n FROM regions", alice)).toEqual([{ n: 0 }]);
      ok(await query("INSERT INTO regions (id, name) VALUES (2, 'acme south')", alice));
      expect(await rows("SELECT name FROM regions", carol)).toEqual([]);
    });
  });

  describe("admin policies", () => {
    it("narrow as written, with the auth helpers, and can be altered and dropped", async () => {
      ok(await query("CREATE POLICY no_secrets ON todos AS RESTRICTIVE FOR SELECT USING (title NOT LIKE 'secret%')", acmeAdmin));
      ok(await query("INSERT INTO todos (title) VALUES ('secret plan')", alice));
      expect(await rows("SELECT title FROM todos", alice)).toEqual([{ title: "alice todo" }]);
      expect(await rows("SELECT count(*)::int AS n FROM todos WHERE title LIKE 'secret%'", acmeAdmin)).toEqual([{ n: 0 }]);

      ok(await query("CREATE POLICY acme_catalogue ON products AS RESTRICTIVE FOR SELECT TO helios_user USING (auth.tenant_id() = 'acme')", asAdminKey()));
      expect(await rows("SELECT count(*)::int AS n FROM products", carol)).toEqual([{ n: 0 }]);
      expect(await rows("SELECT count(*)::int AS n FROM products", alice)).toEqual([{ n: 3 }]);
      ok(await query("ALTER POLICY acme_catalogue ON products USING (auth.uid() = '" + bob.id + "'::uuid OR 'admin' = ANY (auth.scopes()))", asAdminKey()));
      expect(await rows("SELECT count(*)::int AS n FROM products", alice)).toEqual([{ n: 0 }]);
      expect(await rows("SELECT count(*)::int AS n FROM products", bob)).toEqual([{ n: 3 }]);

      ok(await query("DROP POLICY acme_catalogue ON products", asAdminKey()));
      ok(await query("DROP POLICY no_secrets ON public.todos", acmeAdmin));
      expect(await rows("SELECT count(*)::int AS n FROM products", carol)).toEqual([{ n: 3 }]);
      expect(await rows("SELECT title FROM todos ORDER BY id", alice)).toEqual([{ title: "alice todo" }, { title: "secret plan" }]);
    });

    it.each([
      ["a permissive policy", "CREATE POLICY open ON todos USING (true)", /Only AS RESTRICTIVE/],
      ["an explicitly permissive policy", "CREATE POLICY open ON todos AS PERMISSIVE FOR SELECT USING (true)", /Only AS RESTRICTIVE/],
      ["a policy on an auth table", "CREATE POLICY mine ON auth.users AS RESTRICTIVE USING (true)", /schema "public"/],
      ["set_config in USING", "CREATE POLICY p ON todos AS RESTRICTIVE USING (set_config('request.tenant_id', 'globex', true) IS NOT NULL)", /set_config/],
      [
        "set_config in WITH CHECK",
        "CREATE POLICY p ON todos AS RESTRICTIVE WITH CHECK (pg_catalog.set_config('request.user_id', owner_id::text, true) = '')",
        /set_config/,
      ],
      ["set_config through ALTER POLICY", "ALTER POLICY p ON todos USING (length(set_config('role', 'postgres', true)) > 0)", /set_config/],
      ["SQL text run from a policy", "CREATE POLICY p ON todos AS RESTRICTIVE USING (query_to_xml('select 1', true, false, '') IS NOT NULL)", /query_to_xml/],
      ["a policy named like the server's", "CREATE POLICY helios_extra ON todos AS RESTRICTIVE USING (true)", /belong to the server/],
      ["dropping the owner policy", 'DROP POLICY "0helios_owner" ON todos', /belong to the server/],
      ["a policy sorting before the server's", 'CREATE POLICY "0first" ON todos AS RESTRICTIVE USING (true)', /must start with a letter/],
      ["dropping the tenant policy", "DROP POLICY IF EXISTS helios_tenant ON public.todos", /belong to the server/],
      ["altering the tenant policy", "ALTER POLICY helios_tenant ON todos USING (true)", /belong to the server/],
      ["redefining a helper", "CREATE OR REPLACE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql AS 'SELECT NULL::uuid'", /Functions and procedures cannot be created/],
      ["dropping a helper", "DROP FUNCTION auth.uid()", /can be dropped/],
    ])("refuses %s", async (_label, sql, message) => {
      const res = await query(sql, asAdminKey());
      refused(res, 403, "statement_not_allowed");
      expect((res.body as { message: string }).message).toMatch(message);
    });

    it("never run on another tenant's rows, so they cannot quote them in an error", async () => {
      await answer("CREATE TABLE ledger (id serial PRIMARY KEY, tenant_id text NOT NULL, amount text)", asAdminKey());
      await owner.query("INSERT INTO ledger (tenant_id, amount) VALUES ('acme', '12'), ('globex', 'globex-secret')");
      ok(await query("CREATE POLICY A_numbers ON ledger AS RESTRICTIVE FOR SELECT USING (amount::int > 0)", asAdminKey()));
      expect(await rows("SELECT amount FROM ledger", alice)).toEqual([{ amount: "12" }]);
      expect(await rows("SELECT amount FROM ledger", acmeAdmin, { "x-tenant-id": "acme" })).toEqual([{ amount: "12" }]);
      // An unscoped admin sees every tenant, so the expression meets globex's row.
      const all = await query("SELECT amount FROM ledger", asAdminKey());
      refused(all, 400, "sql_error");
      expect((all.body as { message: string }).message).toContain("globex-secret");
      ok(await query("DROP POLICY a_numbers ON ledger", asAdminKey()));
      const gates = await owner.query("SELECT polname FROM pg_policy WHERE polrelid = 'ledger'::regclass ORDER BY polname");
      expect(gates.rows).toEqual([{ polname: "helios_all_tenants" }, { polname: "helios_tenant" }]);
    });

    it("keeps policies for admins", async () => {
      refused(await query("CREATE POLICY mine ON todos AS RESTRICTIVE USING (true)", alice), 403, "insufficient_scope");
    });
  });

  describe("auth helpers", () => {
    const helpers = "SELECT auth.uid() AS uid, auth.tenant_id() AS tenant, auth.role() AS role, auth.scopes() AS scopes, auth.jwt() AS jwt";

    it("return the caller's values", async () => {
      const [mine] = await rows(helpers, alice);
      expect(mine).toMatchObject({ uid: alice.id, tenant: "acme", role: "authenticated", scopes: ["read", "write"] });
      expect(mine?.jwt).toMatchObject({ sub: alice.id, email: alice.email, tenant_id: "acme", scopes: ["read", "write"] });
      expect((await rows(helpers, carol))[0]).toMatchObject({ uid: carol.id, tenant: "globex" });
      const [key] = await rows(helpers, acmeKey);
      expect(key).toMatchObject({ uid: null, tenant: "acme", role: "authenticated" });
      expect(key?.jwt).not.toHaveProperty("sub");
      expect((await rows(helpers, acmeAdmin, { "x-tenant-id": "globex" }))[0]).toMatchObject({ uid: acmeAdmin.id, tenant: "globex" });
    });

    it("cannot be set or redefined by anyone the service runs as", async () => {
      expect(await sqlstate(`SELECT set_config('request.user_id', '${bob.id}', true)`, alice)).toBe("42501");
      expect(await sqlstate("SELECT set_config('request.jwt.claims', '{}', true)", asAdminKey())).toBe("42501");
      // Beneath the guard, the admin role itself has no right to replace them.
      await owner.query("BEGIN");
      try {
        await owner.query("SET LOCAL ROLE helios_admin");
        await expect(owner.query("CREATE OR REPLACE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql AS 'SELECT NULL::uuid'")).rejects.toMatchObject({
          code: "42501",
        });
      } finally {
        await owner.query("ROLLBACK");
      }
      expect((await rows("SELECT auth.uid() AS uid", alice))[0]).toEqual({ uid: alice.id });
    });

    it("open nothing else of the auth schema", async () => {
      expect(await sqlstate("SELECT count(*) FROM auth.users", alice)).toBe("42501");
      expect(await sqlstate("SELECT count(*) FROM auth.api_keys", asAdminKey())).toBe("42501");
    });
  });

  describe("shared sequences", () => {
    it("let users draw values but neither set nor read them", async () => {
      for (const sql of [
        "SELECT setval('todos_id_seq', 2147483647)",
        "SELECT last_value FROM todos_id_seq",
        "SELECT currval('todos_id_seq')",
        "SELECT lastval()",
        "SELECT pg_sequence_last_value('todos_id_seq')",
        "SELECT last_value FROM pg_sequences WHERE sequencename = 'todos_id_seq'",
      ]) {
        expect(await sqlstate(sql, alice)).toBe("42501");
      }
      ok(await query("INSERT INTO todos (title) VALUES ('drawn')", carol));
      const created = await answer("CREATE TABLE tickets (id bigserial PRIMARY KEY, tenant_id text, note text)", asAdminKey());
      expect(created.command).toBe("CREATE TABLE");
      expect(await sqlstate("SELECT setval('tickets_id_seq', 100)", alice)).toBe("42501");
      ok(await query("INSERT INTO tickets (note) VALUES ('first')", alice));
      expect(await rows("SELECT setval('tickets_id_seq', 100) AS v", asAdminKey())).toEqual([{ v: 100 }]);
    });
  });

  describe("keys without tenant_id", () => {
    it("are reported in the answer and the log", async () => {
      const made = await answer(
        "CREATE TABLE members (id serial PRIMARY KEY, tenant_id text NOT NULL, email text UNIQUE, code text, UNIQUE (tenant_id, code))",
        asAdminKey(),
      );
      expect(made.notices).toEqual([
        expect.stringMatching(/^table members is a tenant table/),
        "unique index members_email_key of tenant table members does not include tenant_id: its errors tell one tenant about another's rows; add tenant_id to the key",
      ]);
      expect(server.logs()).toMatch(/"level":40[^\n]*unique index members_email_key of tenant table members does not include tenant_id/);
      const index = await answer("CREATE UNIQUE INDEX members_code ON members (code)", asAdminKey());
      expect(index.notices).toEqual([expect.stringMatching(/^unique index members_code of tenant table members/)]);
      expect((await answer("CREATE UNIQUE INDEX members_tenant_email ON members (tenant_id, lower(email))", asAdminKey())).notices).toEqual([]);
      const fk = await answer("CREATE TABLE visits (id serial PRIMARY KEY, tenant_id text, member int REFERENCES members (id))", asAdminKey());
      expect(fk.notices).toEqual([
        expect.stringMatching(/^table visits is a tenant table/),
        expect.stringMatching(/^foreign key visits_member_fkey of tenant table visits does not include tenant_id/),
      ]);
      // A foreign key to a shared table is no oracle: every tenant reads it.
      expect((await answer("ALTER TABLE members ADD COLUMN product int REFERENCES products (id)", asAdminKey())).notices).toEqual([]);
    });

    it.each(["grpc", "connect"] as const)("are reported over %s too", async (protocol) => {
      const client = createClient(QueryService, rpcTransport(protocol, server.url));
      const answered = await client.query({ sql: `CREATE TABLE seats_${protocol} (tenant_id text, seat text PRIMARY KEY)` }, { headers: keyHeader(adminKey) });
      expect(answered.notices).toEqual([
        expect.stringMatching(new RegExp(`^table seats_${protocol} is a tenant table`)),
        expect.stringMatching(new RegExp(`^primary key seats_${protocol}_pkey of tenant table seats_${protocol} does not include tenant_id`)),
      ]);
    });

    it("are reported when a table with such keys becomes a tenant table", async () => {
      await answer("CREATE TABLE badges (id int, label text UNIQUE)", asAdminKey());
      const altered = await answer("ALTER TABLE badges ADD COLUMN tenant_id text", asAdminKey());
      expect(altered.notices).toEqual([
        expect.stringMatching(/^table badges is a tenant table/),
        expect.stringMatching(/^unique index badges_label_key of tenant table badges does not include tenant_id/),
      ]);
    });
  });
});

describe.each(backends)("--strict-tenancy on %s storage", (backend) => {
  let server: TestServer;
  let adminKey: string;
  const query = (sql: string) => http(server.url, "POST", "/api/v1/query", { body: { sql }, headers: keyHeader(adminKey) });

  beforeAll(async () => {
    server = await startTestServer(backend, [...generousLimits, "--strict-tenancy"]);
    adminKey = await cliKey(server);
  });
  afterAll(() => server?.close());

  it("refuses a unique key of a tenant table without tenant_id, and changes nothing", async () => {
    const res = await query("CREATE TABLE members (id serial PRIMARY KEY, tenant_id text, email text UNIQUE)");
    refused(res, 403, "statement_not_allowed");
    expect((res.body as { message: string }).message).toBe(
      "unique index members_email_key of tenant table members does not include tenant_id: its errors tell one tenant about another's rows; add tenant_id to the key (refused under --strict-tenancy)",
    );
    refused(await query("SELECT * FROM members"), 400, "sql_error");
    ok(await query("CREATE TABLE members (id serial PRIMARY KEY, tenant_id text, email text, UNIQUE (tenant_id, email))"));
    refused(await query("CREATE UNIQUE INDEX ON members (email)"), 403, "statement_not_allowed");
  });
});
