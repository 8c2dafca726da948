import { Validator } from "@seriousme/openapi-schema-validator";
import { FieldDescriptorProtoSchema, UninterpretedOptionSchema } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalogue } from "../../src/errors/catalogue.js";
import { restBindings } from "../../src/server/http-rules.js";
import { createSchemaRegistry } from "../../src/server/openapi-schemas.js";
import { generousLimits } from "../auth/support/auth-api.js";
import { backends, startTestServer, type TestServer } from "../support/server.js";
import { signUpAccount } from "./support/accounts.js";
import { servedServices } from "./support/served-services.js";

type Json = Record<string, unknown>;
type Operation = { operationId: string; responses: Json; security: Json[]; parameters?: Json[]; requestBody?: Json };
interface Document {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Json>; responses: Record<string, Json>; securitySchemes: Record<string, Json> };
}

const httpMethods = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/** "METHOD /path" of every operation of the document. */
function routesOf(document: Document): string[] {
  return Object.entries(document.paths)
    .flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`))
    .sort();
}

describe.each(backends)("GET /openapi.json on %s storage", (backend) => {
  let server: TestServer;
  let document: Document;
  beforeAll(async () => {
    server = await startTestServer(backend, generousLimits);
    const res = await fetch(`${server.url}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    document = (await res.json()) as Document;
  });
  afterAll(() => server?.close());

  it("is a valid OpenAPI 3.1 document", async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(document) as unknown as Parameters<Validator["validate"]>[0]);
    expect(JSON.stringify(result.errors ?? [], null, 1).slice(0, 2000)).toBe("[]");
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
  });

  it("describes exactly the REST bindings of the services the server reflects", async () => {
    const services = await servedServices(server.url);
    expect(services.map((s) => s.typeName)).toEqual(
      expect.arrayContaining(["helios.auth.v1.AuthService", "helios.query.v1.QueryService"]),
    );
    const bindings = restBindings(services)
      .map((b) => `${b.httpMethod} ${b.template.replace(/\{([^}=]+)(=[^}]*)?\}/g, "{$1}")}`)
      .sort();
    expect(routesOf(document)).toEqual(bindings);
    expect(bindings).toContain("POST /auth/v1/signup");
    expect(bindings).toContain("GET /api/v1/query");
  });

  it("documents only routes the server serves: right methods route, others answer 405", async () => {
    for (const [path, operations] of Object.entries(document.paths)) {
      const documented = Object.keys(operations).map((m) => m.toUpperCase());
      const url = `${server.url}${path.replace(/\{[^}]+\}/g, "probe")}`;
      for (const method of documented) {
        const res = await fetch(url, { method, ...(method === "GET" ? {} : { body: "{}", headers: { "content-type": "application/json" } }) });
        expect([404, 405], `${method} ${path}`).not.toContain(res.status);
      }
      for (const method of httpMethods.filter((m) => !documented.includes(m))) {
        const res = await fetch(url, { method });
        expect(res.status, `${method} ${path}`).toBe(405);
        expect(res.headers.get("allow")?.split(", ").sort()).toEqual([...documented].sort());
      }
    }
    expect((await fetch(`${server.url}/auth/v1/nope`)).status).toBe(404);
  });

  it("takes request and response schemas from the messages, in proto3 JSON", () => {
    const { schemas } = document.components;
    const session = schemas["helios.auth.v1.Session"] as { properties: Record<string, Json> };
    expect(session.properties).toEqual({
      access_token: { type: "string" },
      token_type: { type: "string" },
      expires_in: { type: "integer", format: "int32" },
      expires_at: { type: "integer", format: "uint32", minimum: 0, maximum: 4294967295 },
      refresh_token: { type: "string" },
      user: { $ref: "#/components/schemas/helios.auth.v1.User" },
    });
    const user = schemas["helios.auth.v1.User"] as { properties: Record<string, Json> };
    expect(user.properties).toMatchObject({
      tenant_id: { type: "string" },
      scopes: { type: "array", items: { type: "string" } },
      created_at: { type: "string", format: "date-time" },
      last_sign_in_at: { type: "string", format: "date-time" },
    });
    const request = schemas["helios.query.v1.QueryRequest"] as { properties: Record<string, Json> };
    expect(request.properties.params).toEqual({ type: "array", items: { description: "Any JSON value." } });
    expect(request.properties.array_mode).toEqual({ type: "boolean" });
    const signUp = document.paths["/auth/v1/signup"]?.post;
    expect(signUp?.requestBody).toMatchObject({
      content: { "application/json": { schema: { $ref: "#/components/schemas/helios.auth.v1.SignUpRequest" } } },
    });
    expect(signUp?.responses["200"]).toMatchObject({
      content: { "application/json": { schema: { $ref: "#/components/schemas/helios.auth.v1.Session" } } },
    });
    const readQuery = document.paths["/api/v1/query"]?.get;
    expect(readQuery?.requestBody).toBeUndefined();
    expect(readQuery?.parameters).toEqual([
      { name: "sql", in: "query", schema: { type: "string" } },
      expect.objectContaining({ name: "params", in: "query", content: { "application/json": { schema: request.properties.params } } }),
      { name: "array_mode", in: "query", schema: { type: "boolean" } },
    ]);
  });

  it("answers google.protobuf.Empty with 204 and no body", () => {
    const logout = document.paths["/auth/v1/logout"]?.post;
    expect(logout?.responses["204"]).toEqual({ description: expect.any(String) });
    expect(logout?.responses["200"]).toBeUndefined();
  });

  it("maps 64-bit integers to strings and enums to their names", () => {
    const registry = createSchemaRegistry();
    registry.message(UninterpretedOptionSchema);
    registry.message(FieldDescriptorProtoSchema);
    const components = registry.components() as Record<string, { properties: Record<string, Json> }>;
    const option = components["google.protobuf.UninterpretedOption"]?.properties;
    expect(option?.positiveIntValue).toMatchObject({ type: "string", format: "uint64" });
    expect(option?.negativeIntValue).toMatchObject({ type: "string", format: "int64" });
    expect(option?.stringValue).toMatchObject({ type: "string", contentEncoding: "base64" });
    const field = components["google.protobuf.FieldDescriptorProto"]?.properties;
    expect(field?.type).toMatchObject({ type: "string", enum: expect.arrayContaining(["TYPE_INT64", "TYPE_STRING"]) });
  });

  it("carries the error catalogue: an Error schema of every reason and error responses by status", () => {
    const reasons = Object.keys(catalogue);
    const error = document.components.schemas.Error as { required: string[]; properties: Record<string, Json> };
    expect(error.required).toEqual(["error", "message"]);
    expect(error.properties.error).toMatchObject({ type: "string", enum: reasons });
    const statuses = [...new Set(Object.values(catalogue).map((entry) => String(entry.status)))].filter((status) => Number(status) >= 400).sort();
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const errorStatuses = Object.keys(operation.responses).filter((status) => Number(status) >= 400).sort();
        expect(errorStatuses, `${method} ${path}`).toEqual(statuses);
      }
    }
    const unauthorized = document.components.responses.Error401 as { description: string; content: Record<string, { examples: Json }> };
    for (const reason of ["unauthorized", "invalid_token", "token_expired", "session_revoked"]) {
      expect(unauthorized.description).toContain(`\`${reason}\``);
      expect(unauthorized.content["application/json"]?.examples[reason]).toEqual({
        value: { error: reason, message: catalogue[reason as keyof typeof catalogue].message },
      });
    }
  });

  it("declares Bearer, X-API-Key and ?apikey=, optional only on sign-up, sign-in and refresh", () => {
    expect(document.components.securitySchemes).toEqual({
      bearerAuth: expect.objectContaining({ type: "http", scheme: "bearer", bearerFormat: "JWT" }),
      apiKeyHeader: expect.objectContaining({ type: "apiKey", in: "header", name: "X-API-Key" }),
      apiKeyQuery: expect.objectContaining({ type: "apiKey", in: "query", name: "apikey" }),
    });
    const optional = Object.values(document.paths)
      .flatMap((operations) => Object.values(operations))
      .filter((operation) => operation.security.some((requirement) => Object.keys(requirement).length === 0))
      .map((operation) => operation.operationId);
    expect(optional).toEqual(expect.arrayContaining(["AuthService_Refresh", "AuthService_SignUp", "AuthService_Token"]));
    for (const guarded of ["AuthService_GetUser", "AuthService_Logout", "QueryService_Query", "QueryService_ReadQuery"]) {
      expect(optional).not.toContain(guarded);
    }
  });

  it("matches what the server really answers", async () => {
    const account = await signUpAccount(server, "openapi");
    const session = document.components.schemas["helios.auth.v1.Session"] as { properties: Json };
    const user = document.components.schemas["helios.auth.v1.User"] as { properties: Json };
    expect(Object.keys(account.session).sort()).toEqual(Object.keys(session.properties).sort());
    expect(Object.keys(account.session.user).sort()).toEqual(Object.keys(user.properties).sort());
  });

  it("is served for GET only", async () => {
    const res = await fetch(`${server.url}/openapi.json`, { method: "POST" });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET");
    expect(await res.json()).toMatchObject({ error: "method_not_allowed" });
  });
});
