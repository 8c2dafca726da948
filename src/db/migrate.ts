import type { MikroORM } from "@mikro-orm/postgresql";
import pg from "pg";
import type { Logger } from "../logging/logger.js";

/**
 * Key of the session advisory lock that serialises migrations between service instances.
 * Advisory locks are per database, so instances on different databases never wait on each other.
 */
const MIGRATION_LOCK_KEY = "4847524011983461107";

/** How long an instance waits for another one's migrations before giving up. */
const LOCK_WAIT = "5min";

/**
 * Applies every pending migration while holding a PostgreSQL advisory lock on a dedicated
 * connection, so instances starting together run each migration once (the later ones wait, then
 * find nothing pending). Returns the names of the migrations applied.
 */
export async function runPendingMigrations(orm: MikroORM, url: string, logger: Logger): Promise<string[]> {
  const lock = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  lock.on("error", () => undefined);
  await lock.connect();
  try {
    await lock.query(`set lock_timeout = '${LOCK_WAIT}'`);
    try {
      await lock.query("select pg_advisory_lock($1::bigint)", [MIGRATION_LOCK_KEY]);
    } catch (cause) {
      throw new Error(`timed out after ${LOCK_WAIT} waiting for another instance to finish its migrations`, { cause });
    }
    const applied = (await orm.getMigrator().up()).map((migration) => migration.name);
    if (applied.length > 0) logger.info({ migrations: applied }, `applied ${applied.length} database migration(s)`);
    return applied;
  } finally {
    // Closing the session releases the lock too; the explicit unlock just does it sooner.
    await lock.query("select pg_advisory_unlock_all()").catch(() => undefined);
    await lock.end().catch(() => undefined);
  }
}
