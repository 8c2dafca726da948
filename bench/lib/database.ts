import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import pg from "pg";
import { parentOf } from "./proc.js";

/** The bench table's layout: ids 1..rowsPerTenant belong to {@link benchTenants}[0], the next block to [1]. */
export const benchTable = {
  name: "bench_items",
  rowsPerTenant: 10_000,
} as const;

/** The two tenants of the bench rows; users who sign up land in the first (the server's default tenant). */
export const benchTenants = ["default", "other"] as const;

/**
 * Superuser URL of an embedded cluster, as src/db/embedded-postgres.ts builds it: user `postgres`,
 * password in `<dataDir>/pg-superuser-password`, port on line 4 of `<dataDir>/pg/postmaster.pid`,
 * database `helios`, 127.0.0.1 only.
 */
export async function embeddedSuperuserUrl(dataDir: string): Promise<string> {
  const password = (await readFile(join(dataDir, "pg-superuser-password"), "utf8")).trim();
  const pid = (await readFile(join(dataDir, "pg", "postmaster.pid"), "utf8")).split("\n");
  const port = Number(pid[3]);
  if (!Number.isInteger(port) || port <= 0) throw new Error("no port on line 4 of postmaster.pid");
  return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/helios`;
}

/** Runs `work` on one connection to `url`. */
export async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: "heliosdb-bench" });
  client.on("error", () => undefined);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A database made for one run, dropped afterwards. */
export interface ScratchDatabase {
  url: string;
  drop(): Promise<void>;
}

/** Creates `helios_bench_<hex>` on the server of `url` (whose role may create databases). */
export async function createScratchDatabase(url: string): Promise<ScratchDatabase> {
  const name = `helios_bench_${randomBytes(4).toString("hex")}`;
  await withClient(url, (client) => client.query(`CREATE DATABASE ${name}`));
  const scratch = new URL(url);
  scratch.pathname = `/${name}`;
  return {
    url: scratch.toString(),
    drop: () => withClient(url, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

/**
 * Creates `bench_items(id int primary key, tenant_id text, payload text)` with
 * {@link benchTable.rowsPerTenant} rows for each of the {@link benchTenants} (64-character payloads),
 * as the schema owner, and analyzes it. The service's event trigger secures it (RLS) on creation.
 */
export async function createBenchTable(ownerUrl: string): Promise<void> {
  const n = benchTable.rowsPerTenant;
  await withClient(ownerUrl, async (client) => {
    await client.query(`DROP TABLE IF EXISTS ${benchTable.name}`);
    await client.query(`CREATE TABLE ${benchTable.name} (id int PRIMARY KEY, tenant_id text, payload text)`);
    await client.query(
      `INSERT INTO ${benchTable.name} (id, tenant_id, payload)
       SELECT i, CASE WHEN i <= $1 THEN $2 ELSE $3 END, repeat(md5(i::text), 2)
         FROM generate_series(1, $1 * 2) AS i`,
      [n, benchTenants[0], benchTenants[1]],
    );
    await client.query(`ANALYZE ${benchTable.name}`);
  });
}

/** What the catalog says about the bench table's row-level security. */
export interface RlsState {
  enabled: boolean;
  forced: boolean;
  policies: string[];
}

/** Reads the RLS flags and policy names of the bench table. */
export function benchTableRls(ownerUrl: string): Promise<RlsState> {
  return withClient(ownerUrl, async (client) => {
    const table = await client.query<{ relrowsecurity: boolean; relforcerowsecurity: boolean }>(
      "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = $1::regclass",
      [`public.${benchTable.name}`],
    );
    const policies = await client.query<{ polname: string }>(
      "SELECT polname FROM pg_policy WHERE polrelid = $1::regclass ORDER BY polname",
      [`public.${benchTable.name}`],
    );
    return {
      enabled: table.rows[0]?.relrowsecurity === true,
      forced: table.rows[0]?.relforcerowsecurity === true,
      policies: policies.rows.map((row) => row.polname),
    };
  });
}

/** Whether the query engine has set up its roles (it does so at server start once it exists). */
export function queryRolesExist(ownerUrl: string): Promise<boolean> {
  return withClient(ownerUrl, async (client) => {
    const found = await client.query("SELECT 1 FROM pg_roles WHERE rolname IN ('helios_authenticator', 'helios_user')");
    return found.rowCount === 2;
  });
}

/** A login role made for the direct-pg baseline; dropped afterwards (roles are cluster-wide). */
export interface BenchRole {
  /** URL of the scratch database logged in as the role. */
  url: string;
  drop(): Promise<void>;
}

/**
 * Creates a login role shaped like `helios_authenticator` — LOGIN, NOINHERIT, no privileges of its
 * own, member of `helios_user`, allowed to call `set_config` — so the direct-pg baseline runs the
 * executor's transaction under the same privilege checks as the service's query pool.
 */
export async function createBenchAuthenticator(ownerUrl: string): Promise<BenchRole> {
  const name = `helios_bench_${randomBytes(4).toString("hex")}`;
  const password = randomBytes(18).toString("base64url");
  const database = new URL(ownerUrl).pathname.slice(1);
  await withClient(ownerUrl, async (client) => {
    await client.query(`CREATE ROLE ${name} LOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '${password}'`);
    await client.query(`GRANT helios_user TO ${name}`);
    await client.query(`GRANT EXECUTE ON FUNCTION pg_catalog.set_config(text, text, boolean) TO ${name}`);
  });
  const url = new URL(ownerUrl);
  url.username = name;
  url.password = password;
  url.pathname = `/${database}`;
  return {
    url: url.toString(),
    drop: () =>
      withClient(ownerUrl, async (client) => {
        await client.query(`DROP OWNED BY ${name}`);
        await client.query(`DROP ROLE IF EXISTS ${name}`);
      }).then(() => undefined),
  };
}

/**
 * The postmaster pid of the cluster behind `url`, when it runs on this machine (the parent of our
 * own backend); undefined for a remote server.
 */
export function postmasterPidOf(url: string): Promise<number | undefined> {
  return withClient(url, async (client) => {
    const result = await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
    const backend = result.rows[0]?.pid;
    // Read while the connection is open: the backend exits with it.
    return backend === undefined ? undefined : parentOf(backend);
  });
}
