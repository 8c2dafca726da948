import { expect } from "vitest";
import { cliKey, http, keyHeader, type Method } from "../../admin/support/admin-api.js";
import type { RestResponse } from "../../auth/support/auth-api.js";
import type { TestServer } from "../../support/server.js";

/** API keys of two tenants with different scopes, made through the CLI and AdminService. */
export interface SchemaWorld {
  /** Admin of tenant acme (read, write, admin). */
  acmeAdmin: string;
  /** acme, read and write. */
  acme: string;
  /** acme, read only. */
  acmeReader: string;
  /** globex, read and write. */
  globex: string;
  /** A publishable (signup-only) key of acme. */
  publishable: string;
}

/** Creates tenants acme and globex and the keys of a {@link SchemaWorld}. */
export async function createSchemaWorld(server: TestServer): Promise<SchemaWorld> {
  const root = await cliKey(server, "read,write,admin");
  for (const id of ["acme", "globex"]) {
    const res = await http(server.url, "POST", "/admin/v1/tenants", { body: { id }, headers: keyHeader(root) });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  }
  const key = async (tenant: string, scopes: string[]) => {
    const res = await http(server.url, "POST", "/admin/v1/keys", { body: { name: `schema ${tenant}`, tenant_id: tenant, scopes }, headers: keyHeader(root) });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return (res.body as { key: string }).key;
  };
  return {
    acmeAdmin: await key("acme", ["read", "write", "admin"]),
    acme: await key("acme", ["read", "write"]),
    acmeReader: await key("acme", ["read"]),
    globex: await key("globex", ["read", "write"]),
    publishable: await key("acme", ["signup"]),
  };
}

/** Sends a REST request as the holder of `key` (or without credentials). */
export function as(server: TestServer, key: string | undefined, method: Method, path: string, body?: unknown): Promise<RestResponse> {
  return http(server.url, method, path, { body, headers: key ? keyHeader(key) : {} });
}

/** Runs SQL through /api/v1/query as `key`; returns the rows, failing on anything but 200. */
export async function sql(server: TestServer, key: string, text: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
  const res = await as(server, key, "POST", "/api/v1/query", { sql: text, params });
  expect(res.status, `${text}: ${JSON.stringify(res.body)}`).toBe(200);
  return (res.body as { rows: Record<string, unknown>[] }).rows;
}
