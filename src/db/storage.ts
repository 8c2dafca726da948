import type { MikroORM } from "@mikro-orm/postgresql";
import { setTimeout as sleep } from "node:timers/promises";
import type { PoolerMode } from "../config/config.js";
import type { Logger } from "../logging/logger.js";
import { describeDatabaseUrl, parseDatabaseUrl } from "./connection-url.js";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "./embedded-postgres.js";
import { openOrm } from "./orm.js";
import { detectTransactionPooler } from "./pooler-probe.js";

/** Options of {@link openStorage}. */
export interface StorageOptions {
  /** Service data directory; the embedded cluster lives in `<dataDir>/pg`. Unused in external mode. */
  readonly dataDir: string;
  /** An external PostgreSQL (`postgres://user:password@host:port/database`); omit for embedded mode. */
  readonly databaseUrl?: string;
  /** PostgreSQL itself when `databaseUrl` is a connection pooler (external mode only). */
  readonly directDatabaseUrl?: string;
  /** What `databaseUrl` leads to; default `auto` (probed). */
  readonly pooler?: PoolerMode;
  readonly logger: Logger;
}

/** The service's database: PostgreSQL, embedded or external, with the ORM and migrations applied. */
export interface Storage {
  readonly mode: "embedded" | "external";
  /** Connection URL of the role that owns the schemas (runs migrations, the auth schema). Never log it (it holds a password). */
  readonly ownerUrl: string;
  /**
   * `transaction` when {@link Storage.ownerUrl} leads to a transaction-mode pooler: then a
   * statement may not outlive its transaction on a connection (no named prepared statements
   * across transactions, no session settings).
   */
  readonly pooler: "none" | "transaction";
  /**
   * Where what needs a session of its own goes (LISTEN, role and tenancy set-up): the direct URL,
   * or `ownerUrl` when that is no pooler; undefined behind a pooler without a direct URL. Never logged.
   */
  readonly sessionUrl: string | undefined;
  /** MikroORM with every migration applied. */
  readonly orm: MikroORM;
  /** True when the database answers a trivial query within ~1 s. */
  ping(): Promise<boolean>;
  /** Closes the ORM and stops the embedded cluster (if any). Idempotent. */
  close(): Promise<void>;
}

const PING_TIMEOUT_MS = 1_000;

/**
 * Opens the service's storage: the PostgreSQL at `databaseUrl` (external mode), or else a
 * private embedded cluster in `<dataDir>/pg`; then connects MikroORM and applies pending
 * migrations.
 *
 * @throws Error with an operator-facing message when the database cannot be reached or prepared.
 */
export async function openStorage(options: StorageOptions): Promise<Storage> {
  const { databaseUrl, logger } = options;
  if (databaseUrl) {
    parseDatabaseUrl(databaseUrl);
    const { directDatabaseUrl } = options;
    if (directDatabaseUrl) parseDatabaseUrl(directDatabaseUrl);
    logger.info({ database: describeDatabaseUrl(databaseUrl) }, `using external PostgreSQL ${describeDatabaseUrl(databaseUrl)}`);
    // The migration lock works through a pooler too (see migrate.ts), but goes direct when it can.
    const orm = await openOrm({ url: databaseUrl, lockUrl: directDatabaseUrl, logger });
    let pooled: boolean;
    try {
      const mode = options.pooler ?? "auto";
      pooled = mode === "auto" ? await detectTransactionPooler(databaseUrl) : mode === "transaction";
    } catch (error) {
      await orm.close(true).catch(() => undefined);
      throw error;
    }
    if (pooled) logger.info({ pooler: "transaction" }, "--database-url leads to a transaction-mode pooler: no statement outlives its transaction");
    const sessionUrl = directDatabaseUrl ?? (pooled ? undefined : databaseUrl);
    return createStorage({ mode: "external", ownerUrl: databaseUrl, pooler: pooled ? "transaction" : "none", sessionUrl }, orm, undefined);
  }
  const cluster = await startEmbeddedPostgres({ dataDir: options.dataDir, logger });
  try {
    const orm = await openOrm({ url: cluster.url, logger });
    return createStorage({ mode: "embedded", ownerUrl: cluster.url, pooler: "none", sessionUrl: cluster.url }, orm, cluster);
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}

function createStorage(
  urls: Pick<Storage, "mode" | "ownerUrl" | "pooler" | "sessionUrl">,
  orm: MikroORM,
  cluster: EmbeddedPostgres | undefined,
): Storage {
  let closed: Promise<void> | undefined;
  return {
    ...urls,
    orm,
    async ping() {
      if (closed) return false;
      const timer = new AbortController();
      const query = orm.em
        .getConnection()
        .execute("select 1")
        .then(
          () => true,
          () => false,
        );
      const timeout = sleep(PING_TIMEOUT_MS, false, { signal: timer.signal, ref: false }).catch(() => false);
      try {
        return await Promise.race([query, timeout]);
      } finally {
        timer.abort();
      }
    },
    close() {
      closed ??= (async () => {
        try {
          await orm.close();
        } finally {
          await cluster?.stop();
        }
      })();
      return closed;
    },
  };
}
