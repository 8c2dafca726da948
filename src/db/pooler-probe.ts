import { randomBytes } from "node:crypto";
import pg from "pg";

/** The custom setting the probe writes; any role may set a placeholder setting for its session. */
const probeSetting = "helios.pooler_probe";

const attempts = 5;

async function connected(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000, application_name: "heliosdb-nano/probe" });
  client.on("error", () => undefined);
  await client.connect();
  return client;
}

/**
 * Whether `url` leads to a transaction-mode (or statement-mode) pooler rather than to PostgreSQL
 * itself: one client connection sets a session setting to a random value, a second client
 * connection, which never sets it, reads it. On PostgreSQL (or a session-mode pooler, which resets
 * a server connection before handing it on) the second client has a session of its own, where the
 * setting does not exist; a transaction pooler hands the second client's transaction to a server
 * connection another client used (PgBouncer reuses its most recently released one), so a value
 * shows through. Any value counts, not only this probe's: instances started together probe at
 * once, and one's value may land where the other reads (the other's read then sees it, and this
 * one's may see none). Tried a few times; any leak decides.
 */
export async function detectTransactionPooler(url: string): Promise<boolean> {
  const [first, second] = await Promise.all([connected(url), connected(url)]);
  try {
    for (let attempt = 0; attempt < attempts; attempt++) {
      await first.query("SELECT pg_catalog.set_config($1, $2, false)", [probeSetting, randomBytes(8).toString("hex")]);
      const seen = await second.query<{ value: string | null }>("SELECT pg_catalog.current_setting($1, true) AS value", [probeSetting]);
      // Leaves nothing behind on a pooler's server connection (wherever this lands).
      await first.query(`RESET ${probeSetting}`);
      if (seen.rows[0]?.value != null) return true;
    }
    return false;
  } finally {
    await Promise.all([first.end().catch(() => undefined), second.end().catch(() => undefined)]);
  }
}
