import { Writable } from "node:stream";
import { expect } from "vitest";
import { runAdminCli } from "../../../src/cli/admin-cli.js";
import { rest, type RestResponse, type SessionJson } from "../../auth/support/auth-api.js";
import type { TestServer } from "../../support/server.js";

/** An HTTP method of the admin REST paths. */
export type Method = "GET" | "POST" | "PUT" | "DELETE";

/** Sends a REST request with any method (auth-api's `rest` covers GET and POST only). */
export async function http(
  baseUrl: string,
  method: Method,
  path: string,
  options: { body?: unknown; headers?: Record<string, string> } = {},
): Promise<RestResponse> {
  if (method === "GET" || method === "POST") return rest(baseUrl, method, path, options);
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { ...(options.body === undefined ? {} : { "content-type": "application/json" }), ...options.headers },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === "" ? undefined : (JSON.parse(text) as unknown) };
}

/** Asserts a 200 answer and returns its body. */
export function ok<T>(res: RestResponse): T {
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as T;
}

/** Asserts an error answer with `status` and `error`. */
export function refused(res: RestResponse, status: number, error: string): void {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body).toMatchObject({ error });
}

/** The `X-API-Key` header of `key`. */
export const keyHeader = (key: string): Record<string, string> => ({ "x-api-key": key });

/** The `Authorization` header of a bearer `token`. */
export const bearerHeader = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

/** What `heliosdb-nano admin …` printed and its exit code. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the admin CLI in this process (what the binary runs), capturing its output. */
export async function runAdmin(args: string[]): Promise<CliResult> {
  const out = { stdout: "", stderr: "" };
  const sink = (name: keyof typeof out) =>
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        out[name] += chunk.toString();
        done();
      },
    });
  const code = await runAdminCli(args, { stdout: sink("stdout"), stderr: sink("stderr"), env: {} });
  return { code, ...out };
}

/**
 * Creates a key with `heliosdb-nano admin create-key` against the server's database (the way to a
 * first admin) and returns it.
 */
export async function cliKey(server: TestServer, scopes = "admin", extra: string[] = []): Promise<string> {
  const result = await runAdmin(["create-key", "--name", `test-${scopes}`, "--scopes", scopes, "--database-url", server.storage.ownerUrl, ...extra]);
  expect(result.code, result.stderr).toBe(0);
  return result.stdout.trim();
}

/** An API key as AdminService describes it. */
export interface ApiKeyJson {
  id: string;
  prefix: string;
  name: string;
  tenant_id: string;
  scopes: string[];
  created_at: string;
  expires_at?: string;
  last_used_at?: string;
  revoked_at?: string;
  created_by: string;
}

/** A user as AdminService describes it. */
export interface AdminUserJson {
  id: string;
  email: string;
  tenant_id: string;
  scopes: string[];
  banned_until?: string;
}

/** AdminService's answer to a user change. */
export interface UserChangeJson {
  user: AdminUserJson;
  revoked_sessions: number;
}

/** AdminService over REST as the holder of `adminKey`. */
export interface AdminRest {
  createKey(body: Record<string, unknown>): Promise<{ api_key: ApiKeyJson; key: string }>;
  createTenant(id: string): Promise<void>;
  call(method: Method, path: string, body?: unknown): Promise<RestResponse>;
}

/** Creates an {@link AdminRest}. */
export function adminRest(baseUrl: string, adminKey: string): AdminRest {
  const call = (method: Method, path: string, body?: unknown) => http(baseUrl, method, path, { body, headers: keyHeader(adminKey) });
  return {
    call,
    createKey: async (body) => ok(await call("POST", "/admin/v1/keys", { name: "test", ...body })),
    async createTenant(id) {
      ok(await call("POST", "/admin/v1/tenants", { id }));
    },
  };
}

/** Signs up over REST with extra headers (such as a publishable key) and returns the session. */
export async function signUpWith(baseUrl: string, email: string, password: string, headers: Record<string, string> = {}): Promise<RestResponse> {
  return rest(baseUrl, "POST", "/auth/v1/signup", { body: { email, password }, headers });
}

/** Signs in over REST and returns the session. */
export async function signIn(baseUrl: string, email: string, password: string): Promise<SessionJson> {
  return ok<SessionJson>(await rest(baseUrl, "POST", "/auth/v1/token", { body: { email, password } }));
}
