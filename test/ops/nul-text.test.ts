import { createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AdminService } from "../../gen/helios/admin/v1/admin_pb.js";
import { QueryService } from "../../gen/helios/query/v1/query_pb.js";
import { generousLimits, rpcFailure, rpcTransport } from "../auth/support/auth-api.js";
import { cliKey, http, keyHeader } from "../admin/support/admin-api.js";
import { backends, startTestServer, type TestServer } from "../support/server.js";

/** A NUL in any text field is refused at the edge, on every protocol, naming the field. */
describe.each(backends)("NUL characters in requests on %s storage", (backend) => {
  let server: TestServer;
  let adminKey: string;

  beforeAll(async () => {
    server = await startTestServer(backend, generousLimits);
    adminKey = await cliKey(server);
  });
  afterAll(() => server?.close());

  const expectRefused = (res: { status: number; body: unknown }, field: string) => {
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body).toEqual({ error: "validation_failed", message: `${field} must not contain NUL characters (\\u0000)`, field });
  };

  it.each([
    ["POST", "/admin/v1/keys", { name: "web", tenant_id: "a\u0000b", scopes: ["read"] }, "tenant_id"],
    ["POST", "/admin/v1/tenants", { id: "acme", name: "Acme\u0000Corp" }, "name"],
    ["POST", "/auth/v1/signup", { email: "a\u0000@example.com", password: "correct horse battery staple" }, "email"],
    ["POST", "/api/v1/query", { sql: "SELECT $1::jsonb, $2::text", params: [{ list: ["ok", "x\u0000"] }, "fine"] }, "params[0].list[1]"],
    ["POST", "/api/v1/query", { sql: "SELECT $1::jsonb", params: [{ "k\u0000": 1 }] }, "params[0].k\u0000"],
    ["POST", "/api/v1/query", { sql: "SELECT 1\u0000" }, "sql"],
  ] as const)("refuses %s %s naming the field", async (method, path, body, field) => {
    expectRefused(await http(server.url, method, path, { body, headers: keyHeader(adminKey) }), field);
  });

  it("refuses a NUL in a query parameter of a REST path", async () => {
    expectRefused(await http(server.url, "GET", "/admin/v1/users?tenant_id=a%00b", { headers: keyHeader(adminKey) }), "tenant_id");
  });

  it("refuses over gRPC and Connect with INVALID_ARGUMENT", async () => {
    const headers = keyHeader(adminKey);
    for (const protocol of ["grpc", "connect"] as const) {
      const admin = createClient(AdminService, rpcTransport(protocol, server.url));
      const failure = await admin.createApiKey({ name: "web", tenantId: "a\u0000b", scopes: ["read"] }, { headers }).catch(rpcFailure);
      expect(failure).toMatchObject({ reason: "validation_failed", details: { field: "tenant_id" } });
      const query = createClient(QueryService, rpcTransport(protocol, server.url));
      const nested = await query
        .query({ sql: "SELECT $1::text", params: [{ kind: { case: "stringValue", value: "\u0000" } }] }, { headers })
        .catch(rpcFailure);
      expect(nested).toMatchObject({ reason: "validation_failed", details: { field: "params[0]" } });
    }
  });

  it("changed nothing, and logged neither values nor a storage failure", async () => {
    const tenants = await http(server.url, "GET", "/admin/v1/tenants", { headers: keyHeader(adminKey) });
    expect((tenants.body as { tenants: Array<{ id: string }> }).tenants.map((t) => t.id)).not.toContain("acme");
    const logs = server.logs();
    expect(logs).not.toContain("storage unavailable");
    expect(logs).not.toContain("08P01");
    expect(logs).not.toContain("\\u0000");
  });
});
