/** A session answer of the auth API (the fields the bench uses). */
export interface SessionJson {
  access_token: string;
  refresh_token: string;
  user: { id: string; tenant_id: string };
}

/** An answer of POST /api/v1/query (the fields the bench uses). */
export interface QueryJson {
  rows: unknown[];
  row_count: number;
}

/** A call that did not answer 2xx: status and body, for messages. */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`HTTP ${status}: ${body.slice(0, 300)}`);
  }
}

async function call<T>(url: string, init: RequestInit): Promise<T> {
  const response = await fetch(url, init);
  const text = await response.text();
  if (!response.ok) throw new ApiError(response.status, text);
  return JSON.parse(text) as T;
}

const json = { "content-type": "application/json" };

/** POST /auth/v1/signup. */
export function signUp(base: string, email: string, password: string): Promise<SessionJson> {
  return call(`${base}/auth/v1/signup`, { method: "POST", headers: json, body: JSON.stringify({ email, password }) });
}

/** POST /auth/v1/token (password grant). */
export function signIn(base: string, email: string, password: string): Promise<SessionJson> {
  return call(`${base}/auth/v1/token`, { method: "POST", headers: json, body: JSON.stringify({ email, password }) });
}

/** POST /api/v1/query as the holder of `accessToken`. */
export function query(base: string, accessToken: string, sql: string, params: unknown[] = []): Promise<QueryJson> {
  return call(`${base}/api/v1/query`, {
    method: "POST",
    headers: { ...json, authorization: `Bearer ${accessToken}` },
    body: JSON.stringify({ sql, params }),
  });
}
