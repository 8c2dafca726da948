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
      token_type: { type: "string", description: 'Always "bearer".' },
      expires_in: { type: "integer", format: "int32", description: "Lifetime of the access token in seconds." },
      expires_at: { type: "integer", format: "uint32", minimum: 0, maximum: 4294967295, description: "Expiry of the access token in Unix seconds." },
      refresh_token: { type: "string", description: "Opaque, single-use; rotated by every refresh." },
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
    expect(request.properties.params).toEqual({
      type: "array",
      items: { description: "Any JSON value." },
      description: "Values for $1..$n, as JSON values.",
    });
    expect(request.properties.array_mode).toEqual({ type: "boolean", description: "Rows as arrays instead of objects (for duplicate column names)." });
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
      expect.objectContaining({ name: "sql", in: "query", schema: { type: "string" } }),
      expect.objectContaining({ name: "params", in: "query", content: { "application/json": { schema: { type: "array", items: { description: "Any JSON value." } } } } }),
      expect.objectContaining({ name: "array_mode", in: "query", schema: { type: "boolean" } }),
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

  it("carries the error catalogue as the Error schema, and lists per operation only the reasons it can answer", () => {
    const reasons = Object.keys(catalogue);
    const error = document.components.schemas.Error as { required: string[]; properties: Record<string, Json> };
    expect(error.required).toEqual(["error", "message"]);
    expect(error.properties.error).toMatchObject({ type: "string", enum: reasons });
    type ErrorResponse = { description: string; content: Record<string, { examples: Record<string, Json> }> };
    const reasonsOf = (path: string, method: string) =>
      Object.entries(document.paths[path]?.[method]?.responses ?? {})
        .filter(([status]) => Number(status) >= 400)
        .flatMap(([status, response]) => {
          const examples = (response as ErrorResponse).content["application/json"]?.examples ?? {};
          for (const [reason, example] of Object.entries(examples)) {
            // Each reason sits under its own status, with the catalogue's text as its example.
            expect(String(catalogue[reason as keyof typeof catalogue].status)).toBe(status);
            expect(example).toEqual({ value: { error: reason, message: catalogue[reason as keyof typeof catalogue].message } });
          }
          return Object.keys(examples);
        })
        .sort();
    const signUp = reasonsOf("/auth/v1/signup", "post");
    expect(signUp).toEqual(expect.arrayContaining(["weak_password", "user_already_exists", "signup_disabled", "payload_too_large", "bad_json"]));
    expect(signUp).not.toEqual(expect.arrayContaining(["unauthorized"]));
    for (const absent of ["unauthorized", "sql_error", "tenant_not_found", "token_expired"]) expect(signUp).not.toContain(absent);
    const query = reasonsOf("/api/v1/query", "post");
    expect(query).toEqual(expect.arrayContaining(["sql_error", "parameter_count_mismatch", "too_many_queries", "unauthorized", "token_expired", "storage_unavailable"]));
    for (const absent of ["weak_password", "user_already_exists", "tenant_not_found", "invalid_credentials"]) expect(query).not.toContain(absent);
    const user = reasonsOf("/auth/v1/user", "get");
    expect(user).toContain("unauthorized");
    expect(user).not.toContain("sql_error");
    expect(user.length).toBeLessThan(reasons.length);
    // A full hash queue (sign-in, sign-up, a password change) and an answer over the size cap.
    expect(reasonsOf("/auth/v1/token", "post")).toContain("server_busy");
    expect(reasonsOf("/auth/v1/user", "put")).toEqual(expect.arrayContaining(["server_busy", "current_password_mismatch", "weak_password"]));
    expect(query).toEqual(expect.arrayContaining(["result_too_large", "server_busy"]));
    const table = reasonsOf("/api/v1/schema/tables/{name}", "get");
    expect(table).toEqual(expect.arrayContaining(["schema_table_not_found", "query_timeout", "unauthorized"]));
    expect(table).not.toContain("weak_password");

    // Every operation declares its own: none falls back to the whole catalogue, none lists /rest's reasons.
    for (const route of routesOf(document)) {
      const [method, path] = route.split(" ") as [string, string];
      const listed = reasonsOf(path, method.toLowerCase());
      expect(listed.length, route).toBeLessThan(reasons.length);
      expect(listed.filter((reason) => reason.startsWith("rest_")), route).toEqual([]);
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

  it("describes fields, operations and services with the protos' comments", () => {
    const request = document.components.schemas["helios.query.v1.QueryRequest"] as { description: string; properties: Record<string, Json> };
    expect(request.description).toBe("QueryRequest is one SQL statement with its parameters.");
    expect(request.properties.sql?.description).toContain("?sql=");
    expect(request.properties.params?.description).toBe("Values for $1..$n, as JSON values.");
    const read = document.paths["/api/v1/query"]?.get as Operation & { description: string };
    expect(read.description).toMatch(/^Runs a statement in a read-only transaction/);
    expect(read.parameters?.find((p) => p.name === "sql")?.description).toContain("?sql=");
    const tag = (document as unknown as { tags: Json[] }).tags.find((t) => t.name === "QueryService");
    expect(tag?.description).toMatch(/^QueryService runs one SQL statement/);
    const token = document.paths["/auth/v1/token"]?.post as Operation;
    expect(token.parameters).toEqual([
      expect.objectContaining({ name: "grant_type", in: "query", schema: { type: "string" }, description: expect.stringContaining("refresh_token") }),
    ]);
  });

  it("redirects /docs/ to the reference page", async () => {
    const res = await fetch(`${server.url}/docs/`, { redirect: "manual" });
    expect(res.status).toBe(301);
    expect(new URL(res.headers.get("location") ?? "", `${server.url}/docs/`).pathname).toBe("/docs");
    const followed = await fetch(`${server.url}/docs/`);
    expect(followed.status).toBe(200);
    expect(await followed.text()).toContain("swagger-ui");
  });

  it("is served for GET only", async () => {
    const res = await fetch(`${server.url}/openapi.json`, { method: "POST" });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET");
    expect(await res.json()).toMatchObject({ error: "method_not_allowed" });
  });
});
