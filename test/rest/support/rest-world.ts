import pg from "pg";
import { generousLimits } from "../../auth/support/auth-api.js";
import { member, type Member } from "../../support/members.js";
import { startTestServer, type Backend, type TestServer } from "../../support/server.js";

/** An answer of `/rest`, its body read as text (and as JSON when it parses). */
export interface RestAnswer {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

/** A server with two tenants' members and a small shop schema, created through `/api/v1/query`. */
export interface RestWorld {
  server: TestServer;
  owner: pg.Client;
  acme: Member;
  acmeAdmin: Member;
  acmeReader: Member;
  globex: Member;
  globexAdmin: Member;
  /** Runs SQL through `/api/v1/query` as `who`, failing on anything but 200; answers the rows. */
  sql(who: Member, text: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  /** Calls `/rest/v1{path}` as `who` (no credentials when undefined). */
  rest(who: Member | undefined, method: string, path: string, options?: { headers?: Record<string, string>; body?: unknown }): Promise<RestAnswer>;
  close(): Promise<void>;
}

/** The schema every `/rest` suite uses; `tenant_id` tables get the tenancy policies automatically. */
export const shopSchema = [
  "CREATE TABLE customers (id int PRIMARY KEY, tenant_id text NOT NULL, name text NOT NULL, city text)",
  `CREATE TABLE orders (id int PRIMARY KEY, tenant_id text NOT NULL, customer_id int REFERENCES customers(id),
     item text NOT NULL, amount numeric, tags text[], data jsonb, note text)`,
  "CREATE TABLE items (id serial PRIMARY KEY, tenant_id text NOT NULL, name text NOT NULL, qty int NOT NULL DEFAULT 1, label text DEFAULT 'none', UNIQUE (tenant_id, name))",
];

/** Starts a server on `backend` and builds the {@link RestWorld} in it. */
export async function startRestWorld(backend: Backend, flags: string[] = []): Promise<RestWorld> {
  const server = await startTestServer(backend, [...generousLimits, ...flags]);
  const owner = new pg.Client({ connectionString: server.storage.ownerUrl });
  await owner.connect();
  const [acme, acmeAdmin, acmeReader, globex, globexAdmin] = await Promise.all([
    member(server, owner, "acme", ["read", "write"]),
    member(server, owner, "acme", ["read", "write", "admin"]),
    member(server, owner, "acme", ["read"]),
    member(server, owner, "globex", ["read", "write"]),
    member(server, owner, "globex", ["read", "write", "admin"]),
  ]);
  const sql = async (who: Member, text: string, params: unknown[] = []) => {
    const res = await fetch(`${server.url}/api/v1/query`, {
      method: "POST",
      headers: { authorization: `Bearer ${who.token}`, "content-type": "application/json" },
      body: JSON.stringify({ sql: text, params }),
    });
    const body = (await res.json()) as { rows: Record<string, unknown>[] };
    if (res.status !== 200) throw new Error(`${text}: ${res.status} ${JSON.stringify(body)}`);
    return body.rows;
  };
  const rest: RestWorld["rest"] = async (who, method, path, options = {}) => {
    const headers: Record<string, string> = { ...(who ? { authorization: `Bearer ${who.token}` } : {}), ...options.headers };
    if (options.body !== undefined) headers["content-type"] ??= "application/json";
    const res = await fetch(`${server.url}/rest/v1${path}`, {
      method,
      headers,
      body: options.body === undefined ? undefined : typeof options.body === "string" ? options.body : JSON.stringify(options.body),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json };
  };
  try {
    for (const statement of shopSchema) await sql(acmeAdmin, statement);
    await sql(acme, "INSERT INTO customers (id, name, city) VALUES (1, 'Ada', 'London'), (2, 'Bob', 'Paris')");
    await sql(globex, "INSERT INTO customers (id, name, city) VALUES (3, 'Cy', 'London')");
    await sql(
      acme,
      `INSERT INTO orders (id, customer_id, item, amount, tags, data, note) VALUES
         (1, 1, 'anvil', 10, '{heavy,iron}', '{"color": "black", "size": {"w": 3}}', 'fragile, handle with care'),
         (2, 1, 'rocket', 25.5, '{fast}', '{"color": "red"}', NULL),
         (3, 2, 'glue', 5, '{}', NULL, 'sticky')`,
    );
    await sql(globex, `INSERT INTO orders (id, customer_id, item, amount, tags, data) VALUES (4, 3, 'widget', 99, '{secret}', '{"color": "gold"}')`);
  } catch (error) {
    await owner.end();
    await server.close();
    throw error;
  }
  return {
    server, owner, acme, acmeAdmin, acmeReader, globex, globexAdmin, sql, rest,
    close: async () => {
      await owner.end();
      await server.close();
    },
  };
}
