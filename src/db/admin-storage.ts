import { readFile, realpath } from "node:fs/promises";
import { join, resolve } from "node:path";
import pg from "pg";
import { CLUSTER_DIR, DEFAULT_DATABASE, PASSWORD_FILE, SUPERUSER } from "./embedded-postgres.js";
import { openStorage, type Storage, type StorageOptions } from "./storage.js";

/**
 * Opens the service's storage for a one-off administrative command, whether or not a server runs on
 * it: external storage as usual; embedded storage through the cluster of a running server when one
 * holds the data directory (a second cluster cannot start on it), otherwise by starting the embedded
 * cluster for the command (`close()` stops it again). Migrations are applied either way.
 */
export async function openAdminStorage(options: StorageOptions): Promise<Storage> {
  if (options.databaseUrl) return openStorage(options);
  const running = await runningClusterUrl(resolve(options.dataDir));
  if (running) {
    options.logger.info("the embedded PostgreSQL is running (a server holds it): using it");
    return openStorage({ ...options, databaseUrl: running });
  }
  return openStorage(options);
}

/**
 * The superuser URL of the embedded cluster of `dataDir` if it is up: its `postmaster.pid` names a
 * port (4th line) on which that very cluster (same data directory) accepts the stored password.
 * Anything else (no pid file, a stale one, another server on the port) is undefined, and starting
 * the cluster then sorts out stale state as a server start does.
 */
async function runningClusterUrl(dataDir: string): Promise<string | undefined> {
  const clusterDir = join(dataDir, CLUSTER_DIR);
  let port: number;
  let password: string;
  try {
    const lines = (await readFile(join(clusterDir, "postmaster.pid"), "utf8")).split("\n");
    port = Number.parseInt(lines[3] ?? "", 10);
    password = (await readFile(join(dataDir, PASSWORD_FILE), "utf8")).trim();
  } catch {
    return undefined;
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535 || password === "") return undefined;
  const url = `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${DEFAULT_DATABASE}`;
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  client.on("error", () => undefined);
  try {
    await client.connect();
    const { rows } = await client.query<{ dir: string }>("select current_setting('data_directory') as dir");
    const served = rows[0] ? await realpath(rows[0].dir) : undefined;
    return served === (await realpath(clusterDir)) ? url : undefined;
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => undefined);
  }
}
