import type { MikroORM } from "@mikro-orm/postgresql";
import pg from "pg";
import type { Logger } from "../logging/logger.js";

/**
 * Key of the advisory lock that serialises migrations between service instances.
 * Advisory locks are per database, so instances on different databases never wait on each other.
 */
const MIGRATION_LOCK_KEY = "4847524011983461107";

/** How long an instance waits for another one's migrations before giving up. */
const LOCK_WAIT = "5min";

/**
 * Applies every pending migration while holding a PostgreSQL advisory lock on a dedicated
 * connection to `lockUrl`, so instances starting together run each migration once (the later ones
 * wait, then find nothing pending). Returns the names of the migrations applied.
 *
 * The lock is transaction-level, held by a transaction left open on that connection until the
 * migrations are done: it works on PostgreSQL and also through a transaction-mode pooler (which
 * keeps a client's open transaction on one server connection), where a session lock would stay
 * behind on whichever server connection took it.
 */
export async function runPendingMigrations(orm: MikroORM, lockUrl: string, logger: Logger): Promise<string[]> {
  const lock = new pg.Client({ connectionString: lockUrl, connectionTimeoutMillis: 10_000, application_name: "heliosdb-nano/migrate" });
  lock.on("error", () => undefined);
  await lock.connect();
  try {
    await lock.query("begin");
    await lock.query(`set local lock_timeout = '${LOCK_WAIT}'`);
    try {
      await lock.query("select pg_advisory_xact_lock($1::bigint)", [MIGRATION_LOCK_KEY]);
    } catch (cause) {
      throw new Error(`timed out after ${LOCK_WAIT} waiting for another instance to finish its migrations`, { cause });
    }
    const applied = (await orm.getMigrator().up()).map((migration) => migration.name);
    if (applied.length > 0) logger.info({ migrations: applied }, `applied ${applied.length} database migration(s)`);
    return applied;
  } finally {
    // Ending the transaction releases the lock; closing the connection would too.
    await lock.query("rollback").catch(() => undefined);
    await lock.end().catch(() => undefined);
  }
}
