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
 * Gives an account every scope, as the schema owner in SQL (how the first admin comes to be), and
 * signs it in again so that its token carries them.
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

/** A publishable (sign-up) key of `tenant`, created through the admin API. */
export async function publishableKey(server: TestServer, tenant: string): Promise<string> {
  const admin = await promoteToAdmin(server, await signUpAccount(server, "keys-admin"));
  const headers = { authorization: `Bearer ${admin.session.access_token}`, "content-type": "application/json" };
  const tenantRes = await fetch(`${server.url}/admin/v1/tenants`, { method: "POST", headers, body: JSON.stringify({ id: tenant }) });
  if (tenantRes.status !== 200) throw new Error(`tenant not created: ${tenantRes.status} ${await tenantRes.text()}`);
  const res = await fetch(`${server.url}/admin/v1/keys`, {
    method: "POST",
    headers,
    body: JSON.stringify({ name: "web app", tenant_id: tenant, scopes: ["signup"] }),
  });
  const body = (await res.json()) as { key: string };
  if (res.status !== 200) throw new Error(`key not created: ${res.status} ${JSON.stringify(body)}`);
  return body.key;
}
