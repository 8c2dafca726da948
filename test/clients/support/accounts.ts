import pg from "pg";
import { authApi, expectOk, strongPassword, uniqueEmail, type SessionJson } from "../../auth/support/auth-api.js";
import type { TestServer } from "../../support/server.js";

/** An account signed up through the REST API for a test. */
export interface Account {
  email: string;
  password: string;
  session: SessionJson;
}

/** Signs a fresh account up over REST. */
export async function signUpAccount(server: TestServer, label = "client"): Promise<Account> {
  const email = uniqueEmail(label);
  const password = strongPassword();
  const session = expectOk(await authApi("rest", server.url).signUp(email, password));
  return { email, password, session };
}

/**
 * Gives an account every scope, as the schema owner (there is no admin API yet, as in
 * test/query/query-api.test.ts), and signs it in again so that its token carries them.
 */
export async function promoteToAdmin(server: TestServer, account: Account): Promise<Account> {
  const owner = new pg.Client({ connectionString: server.storage.ownerUrl });
  await owner.connect();
  try {
    await owner.query("UPDATE auth.users SET scopes = '{read,write,admin}' WHERE email = $1", [account.email]);
  } finally {
    await owner.end();
  }
  const session = expectOk(await authApi("rest", server.url).token({ email: account.email, password: account.password }));
  return { ...account, session };
}

/** POSTs one statement to /api/v1/query as `account`, failing on anything but 200. */
export async function runSql(server: TestServer, account: Account, sql: string, params: unknown[] = []): Promise<unknown> {
  const res = await fetch(`${server.url}/api/v1/query`, {
    method: "POST",
    headers: { authorization: `Bearer ${account.session.access_token}`, "content-type": "application/json" },
    body: JSON.stringify({ sql, params }),
  });
  const body = (await res.json()) as unknown;
  if (res.status !== 200) throw new Error(`${sql}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}
