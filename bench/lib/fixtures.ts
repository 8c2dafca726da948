import { randomBytes } from "node:crypto";
import { ApiError, query, signIn, signUp } from "./api.js";
import { benchTable, benchTenants } from "./database.js";

/** The user every authenticated scenario runs as. */
export interface BenchUser {
  email: string;
  password: string;
  id: string;
  tenantId: string;
  accessToken: string;
}

/** The password of bench users (ASCII, so NFKC leaves it alone; not a common password). */
export const benchPassword = "bench-Password-7f3a9c21";

/** Signs up a fresh user through the public API; it lands in the server's default tenant. */
export async function signUpBenchUser(base: string): Promise<BenchUser> {
  const email = `bench-${randomBytes(5).toString("hex")}@example.com`;
  const session = await signUp(base, email, benchPassword);
  if (session.user.tenant_id !== benchTenants[0]) {
    throw new Error(`bench user landed in tenant "${session.user.tenant_id}", expected "${benchTenants[0]}"`);
  }
  return { email, password: benchPassword, id: session.user.id, tenantId: session.user.tenant_id, accessToken: session.access_token };
}

/** Signs `user` in `count` times (a few at a time) and returns one refresh token per new session. */
export async function refreshTokensOf(base: string, user: BenchUser, count: number): Promise<string[]> {
  const tokens: string[] = [];
  let started = 0;
  const next = async (): Promise<void> => {
    while (started < count) {
      started++;
      tokens.push((await signIn(base, user.email, user.password)).refresh_token);
    }
  };
  await Promise.all(Array.from({ length: 4 }, next));
  return tokens;
}

/** The statements of scenarios 4 and 5, valid with and without RLS (the ids lie in the user's tenant). */
export const benchQueries = {
  oneRow: { sql: `SELECT id, tenant_id, payload FROM ${benchTable.name} WHERE id = $1`, params: [4242], rows: 1 },
  thousandRows: {
    sql: `SELECT id, tenant_id, payload FROM ${benchTable.name} WHERE id BETWEEN $1 AND $2 ORDER BY id`,
    params: [1001, 2000],
    rows: 1000,
  },
  /** Scenario 8's page: what `/rest/v1/bench_items?id=gte.1001&order=id&limit=100` runs. */
  hundredRows: {
    sql: `SELECT id, tenant_id, payload FROM ${benchTable.name} WHERE id >= $1 ORDER BY id LIMIT 100`,
    params: [1001],
    rows: 100,
  },
} as const;

/** One of {@link benchQueries}. */
export type BenchQuery = (typeof benchQueries)[keyof typeof benchQueries];

/** Whether POST /api/v1/query works; the reason when it does not. */
export async function queryEndpointState(base: string, user: BenchUser): Promise<{ ok: true } | { ok: false; reason: string }> {
  try {
    await query(base, user.accessToken, "SELECT 1 AS one");
    return { ok: true };
  } catch (error) {
    const reason = error instanceof ApiError ? `POST /api/v1/query answers ${error.message}` : String(error);
    return { ok: false, reason };
  }
}

/**
 * Checks through the API that tenant RLS applies to the bench table: the user sees exactly its own
 * tenant's rows and none of the other's, and both bench statements return their row counts.
 */
export async function verifyTenantIsolation(base: string, user: BenchUser): Promise<void> {
  const counts = await query(base, user.accessToken, `SELECT tenant_id, count(*)::int AS n FROM ${benchTable.name} GROUP BY tenant_id`);
  const seen = JSON.stringify(counts.rows);
  const expected = JSON.stringify([{ tenant_id: user.tenantId, n: benchTable.rowsPerTenant }]);
  if (seen !== expected) throw new Error(`RLS check failed: the bench user sees ${seen}, expected ${expected}`);
  for (const q of Object.values(benchQueries)) {
    const result = await query(base, user.accessToken, q.sql, [...q.params]);
    if (result.rows.length !== q.rows) throw new Error(`"${q.sql}" returned ${result.rows.length} rows, expected ${q.rows}`);
  }
}
