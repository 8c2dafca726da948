import { rest, strongPassword, uniqueEmail, type RestResponse, type SessionJson } from "../../auth/support/auth-api.js";

/** A user signed up over REST, with its secrets. */
export interface RestUser {
  email: string;
  password: string;
  session: SessionJson;
}

/** The `Authorization` header of `token`. */
export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

/** Signs a fresh user up at `baseUrl`; throws unless it worked. */
export async function signUp(baseUrl: string, label = "ops"): Promise<RestUser> {
  const email = uniqueEmail(label);
  const password = strongPassword();
  const res = await rest(baseUrl, "POST", "/auth/v1/signup", { body: { email, password } });
  if (res.status !== 200) throw new Error(`sign-up failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { email, password, session: res.body as SessionJson };
}

/** GET /auth/v1/user with `token`. */
export const getUser = (baseUrl: string, token: string): Promise<RestResponse> => rest(baseUrl, "GET", "/auth/v1/user", { headers: bearer(token) });

/** POST /auth/v1/token?grant_type=refresh_token. */
export const refresh = (baseUrl: string, refreshToken: string): Promise<RestResponse> =>
  rest(baseUrl, "POST", "/auth/v1/token?grant_type=refresh_token", { body: { refresh_token: refreshToken } });

/** POST /auth/v1/token with a password. */
export const signIn = (baseUrl: string, email: string, password: string): Promise<RestResponse> =>
  rest(baseUrl, "POST", "/auth/v1/token", { body: { email, password } });

/** POST /api/v1/query. */
export const query = (baseUrl: string, token: string, sql: string): Promise<RestResponse> =>
  rest(baseUrl, "POST", "/api/v1/query", { headers: bearer(token), body: { sql } });

/** The `error` of a REST error body. */
export const errorOf = (res: RestResponse): unknown => (res.body as { error?: unknown } | undefined)?.error;

/** The value of the Prometheus sample `name{labels}` in `text`, or 0 when absent. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const matches = Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`));
    if (matches) total += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return total;
}
