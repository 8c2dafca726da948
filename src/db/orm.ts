import { Migrator } from "@mikro-orm/migrations";
import { MikroORM } from "@mikro-orm/postgresql";
import type { Logger } from "../logging/logger.js";
import { describeDatabaseUrl, parseDatabaseUrl } from "./connection-url.js";
import { entities } from "./entities/index.js";
import { runPendingMigrations } from "./migrate.js";
import { migrations } from "./migrations/index.js";
import { createOrmLoggerFactory } from "./orm-logger.js";

/** Options of {@link openOrm}. */
export interface OrmOptions {
  /** Connection URL of the role that owns the schemas. Never logged. */
  readonly url: string;
  /** Where the migration lock is taken (PostgreSQL itself when `url` is a pooler); default `url`. */
  readonly lockUrl?: string;
  readonly logger: Logger;
}

/** knex's logger, writing to ours (its messages carry driver text, never parameters). */
function knexLog(logger: Logger): Record<"warn" | "error" | "deprecate" | "debug", (message: unknown) => void> {
  const log = logger.child({ component: "knex" });
  const text = (message: unknown) => (message instanceof Error ? message.message : String(message));
  return {
    warn: (message) => log.warn(text(message)),
    error: (message) => log.error(text(message)),
    deprecate: (message) => log.debug(text(message)),
    debug: (message) => log.debug(text(message)),
  };
}

/** Name of the table recording applied migrations; it lives in the `auth` schema. */
export const MIGRATIONS_TABLE = "auth.mikro_orm_migrations";

/**
 * Connects MikroORM (PostgreSQL driver, no decorators: entities are `EntitySchema`s from
 * `entities/index.ts`) and applies every pending migration from `migrations/index.ts` under an
 * advisory lock.
 *
 * @throws Error when the database is unreachable or a migration fails; the ORM is closed then.
 */
export async function openOrm({ url, lockUrl, logger }: OrmOptions): Promise<MikroORM> {
  parseDatabaseUrl(url);
  const target = describeDatabaseUrl(url);
  const orm = await MikroORM.init({
    // MikroORM reads host, user, database from clientUrl; pg's connectionString also keeps
    // parameters MikroORM drops (sslmode, options, ...).
    clientUrl: url,
    driverOptions: {
      connection: { connectionString: url, connectionTimeoutMillis: 10_000 },
      // knex would print its warnings (a broken pooled connection) with console.log, outside the JSON log.
      log: knexLog(logger),
    },
    pool: { min: 0, max: 10 },
    entities,
    discovery: { warnWhenNoEntities: false, disableDynamicFileAccess: true },
    extensions: [Migrator],
    migrations: {
      tableName: MIGRATIONS_TABLE,
      migrationsList: migrations,
      transactional: true,
      allOrNothing: true,
      snapshot: false,
      silent: true,
    },
    ensureDatabase: false,
    debug: false,
    colors: false,
    loggerFactory: createOrmLoggerFactory(logger),
  });
  try {
    const check = await orm.checkConnection();
    if (!check.ok) throw new Error(`cannot connect to PostgreSQL ${target}: ${check.reason}`, { cause: check.error });
    await runPendingMigrations(orm, lockUrl ?? url, logger);
    return orm;
  } catch (error) {
    await orm.close(true).catch(() => undefined);
    throw error;
  }
}
