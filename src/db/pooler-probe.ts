import { randomBytes } from "node:crypto";
import pg from "pg";

/** The custom setting the probe writes; any role may set a placeholder setting for its session. */
const probeSetting = "helios.pooler_probe";

const attempts = 3;

async function connected(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000, application_name: "heliosdb-nano/probe" });
  client.on("error", () => undefined);
  await client.connect();
  return client;
}

/**
 * Whether `url` leads to a transaction-mode (or statement-mode) pooler rather than to PostgreSQL
 * itself: one client connection sets a session setting to a random value, a second client
 * connection reads it. On PostgreSQL (or a session-mode pooler) each client has a session of its
 * own and never sees the other's setting; a transaction pooler hands the second client's
 * transaction to the server connection the first just released (PgBouncer reuses its most recently
 * used one), so the value shows through. Tried a few times; any leak decides.
 */
export async function detectTransactionPooler(url: string): Promise<boolean> {
  const [first, second] = await Promise.all([connected(url), connected(url)]);
  try {
    for (let attempt = 0; attempt < attempts; attempt++) {
      const token = randomBytes(8).toString("hex");
      await first.query("SELECT pg_catalog.set_config($1, $2, false)", [probeSetting, token]);
      const seen = await second.query<{ value: string | null }>("SELECT pg_catalog.current_setting($1, true) AS value", [probeSetting]);
      // Leaves nothing behind on a pooler's server connection (wherever this lands).
      await first.query(`RESET ${probeSetting}`);
      if (seen.rows[0]?.value === token) return true;
    }
    return false;
  } finally {
    await Promise.all([first.end().catch(() => undefined), second.end().catch(() => undefined)]);
  }
}
