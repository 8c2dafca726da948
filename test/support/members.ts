import type pg from "pg";
import { authApi, expectOk, strongPassword, uniqueEmail } from "../auth/support/auth-api.js";
import type { TestServer } from "./server.js";

/** A signed-in principal of a test world. */
export interface Member {
  token: string;
  tenant: string;
  email: string;
  password: string;
}

/**
 * Signs a user up through the API, then (as the schema owner, since tenant administration is a
 * later issue) places it in `tenant` with `scopes`, and signs in so the token carries both.
 */
export async function member(server: TestServer, owner: pg.Client, tenant: string, scopes: string[]): Promise<Member> {
  const api = authApi("rest", server.url);
  const email = uniqueEmail(tenant);
  const password = strongPassword();
  expectOk(await api.signUp(email, password));
  await owner.query("INSERT INTO auth.tenants (id, name) VALUES ($1, $1) ON CONFLICT DO NOTHING", [tenant]);
  await owner.query("UPDATE auth.users SET tenant_id = $1, scopes = $2 WHERE email = $3", [tenant, scopes, email]);
  const session = expectOk(await api.token({ email, password }));
  return { token: session.access_token, tenant, email, password };
}
