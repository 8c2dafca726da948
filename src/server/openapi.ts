import { existsSync, readFileSync } from "node:fs";
import type { DescField, DescMethod } from "@bufbuild/protobuf";
import { catalogue, type Reason } from "../errors/catalogue.js";
import type { RestBinding } from "./http-rules.js";
import { createSchemaRegistry, type JsonSchema, type SchemaRegistry } from "./openapi-schemas.js";

/** An OpenAPI 3.1 document, as plain JSON. */
export type OpenApiDocument = { openapi: "3.1.0"; paths: Record<string, Record<string, OpenApiOperation>> } & JsonSchema;

/** One operation of an {@link OpenApiDocument}. */
export type OpenApiOperation = { operationId: string } & JsonSchema;

/** What {@link buildOpenApiDocument} describes. */
export interface OpenApiOptions {
  /** The REST bindings the server serves (from `google.api.http`). */
  bindings: readonly RestBinding[];
  title: string;
  version: string;
  /** RPCs callable without credentials: their operations list credentials as optional. */
  publicMethods?: ReadonlySet<DescMethod>;
}

/**
 * The version of this package, the document's `info.version`: from the nearest package.json above
 * this module that is ours (the module runs from `src/` under tsx, or from its build in `dist/src/`).
 */
export function packageVersion(): string {
  for (let dir = new URL(".", import.meta.url); ; dir = new URL("..", dir)) {
    const manifest = new URL("package.json", dir);
    if (existsSync(manifest)) {
      const pkg = JSON.parse(readFileSync(manifest, "utf8")) as { name?: unknown; version?: unknown };
      if (pkg.name === "heliosdb-nano") return String(pkg.version ?? "0.0.0");
    }
    if (dir.pathname === "/") return "0.0.0";
  }
}

/** Names of the security schemes, as the document declares them. */
export const securitySchemeNames = { bearer: "bearerAuth", apiKeyHeader: "apiKeyHeader", apiKeyQuery: "apiKeyQuery" } as const;

const securitySchemes = {
  [securitySchemeNames.bearer]: {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "The `access_token` of a session (`POST /auth/v1/token`).",
  },
  [securitySchemeNames.apiKeyHeader]: { type: "apiKey", in: "header", name: "X-API-Key", description: "An API key." },
  [securitySchemeNames.apiKeyQuery]: {
    type: "apiKey",
    in: "query",
    name: "apikey",
    description: "An API key in the URL. Deprecated: URLs end up in logs; send `X-API-Key` instead.",
  },
};

const anyCredential = [
  { [securitySchemeNames.bearer]: [] },
  { [securitySchemeNames.apiKeyHeader]: [] },
  { [securitySchemeNames.apiKeyQuery]: [] },
];
/** Public operations: no credentials needed; an API key (a publishable key) may come along. */
const optionalCredential = [{}, { [securitySchemeNames.apiKeyHeader]: [] }, { [securitySchemeNames.apiKeyQuery]: [] }];

/** The HTTP statuses of the catalogue, each with its reasons, in status order. */
function reasonsByStatus(): Map<number, Reason[]> {
  const byStatus = new Map<number, Reason[]>();
  for (const [reason, entry] of Object.entries(catalogue) as [Reason, (typeof catalogue)[Reason]][]) {
    byStatus.set(entry.status, [...(byStatus.get(entry.status) ?? []), reason]);
  }
  return new Map([...byStatus].sort(([a], [b]) => a - b));
}

/** The `Error` schema: the guide's `{"error", "message"}`, plus GoTrue's `code` for Supabase clients. */
function errorSchema(): JsonSchema {
  const reasons = Object.keys(catalogue);
  return {
    type: "object",
    title: "Error",
    required: ["error", "message"],
    properties: {
      error: { type: "string", enum: reasons, description: "The failure reason (see the error catalogue)." },
      message: { type: "string", description: "Human-readable text; do not parse it." },
      code: {
        type: "string",
        enum: reasons,
        description: "The same reason, only for requests with `X-Supabase-Api-Version: 2024-01-01` (Supabase's auth-js).",
      },
    },
    additionalProperties: { type: "string", description: "Details of some reasons, such as `retry_after`." },
  };
}

/** One reusable response per catalogue status, listing its reasons with an example body each. */
function errorResponses(byStatus: Map<number, Reason[]>): Record<string, JsonSchema> {
  const responses: Record<string, JsonSchema> = {};
  for (const [status, reasons] of byStatus) {
    responses[errorResponseName(status)] = {
      description: `Reasons: ${reasons.map((reason) => `\`${reason}\``).join(", ")}.`,
      content: {
        "application/json": {
          schema: { $ref: "#/components/schemas/Error" },
          examples: Object.fromEntries(
            reasons.map((reason) => [
              reason,
              { value: { error: reason, message: catalogue[reason].message } },
            ]),
          ),
        },
      },
    };
  }
  return responses;
}

function errorResponseName(status: number): string {
  return `Error${status}`;
}

/** `/admin/v1/keys/{id=*}` → `/admin/v1/keys/{id}`. */
function openApiPath(template: string): string {
  return template.replace(/\{([^}=]+)(?:=[^}]*)?\}/g, "{$1}");
}

function pathVariables(template: string): string[] {
  return [...template.matchAll(/\{([^}=]+)(?:=[^}]*)?\}/g)].map((match) => match[1] ?? "");
}

/** `ReadQuery` → `Read query`. */
function summaryOf(method: DescMethod): string {
  const words = method.name.replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function findField(fields: readonly DescField[], name: string): DescField | undefined {
  return fields.find((field) => field.name === name || field.jsonName === name);
}

/** A query (or path) parameter for `field`: scalars as themselves, anything else as JSON text. */
function parameter(schemas: SchemaRegistry, field: DescField, location: "query" | "path"): JsonSchema {
  const base = { name: field.jsonName, in: location, ...(location === "path" ? { required: true } : {}) };
  const simple = field.fieldKind === "scalar" || field.fieldKind === "enum";
  if (simple) return { ...base, schema: schemas.field(field) };
  return {
    ...base,
    description: "JSON text (repeat the parameter for several list elements).",
    content: { "application/json": { schema: schemas.field(field) } },
  };
}

function operation(binding: RestBinding, schemas: SchemaRegistry, errorStatuses: number[], options: OpenApiOptions): OpenApiOperation {
  const { method } = binding;
  const input = method.input;
  const pathNames = pathVariables(binding.template);
  const parameters: JsonSchema[] = pathNames.flatMap((name) => {
    const field = findField(input.fields, name);
    return field ? [parameter(schemas, field, "path")] : [];
  });
  let requestBody: JsonSchema | undefined;
  const notes = [`The RPC \`${method.parent.typeName}/${method.name}\`, also served over gRPC, gRPC-Web and Connect.`];
  if (binding.body === "*") {
    requestBody = { required: false, content: { "application/json": { schema: schemas.message(input) } } };
    notes.push("Any field may also be given as a query parameter, which takes precedence over the body.");
  } else {
    const bodyField = binding.body === "" ? undefined : findField(input.fields, binding.body);
    if (bodyField) requestBody = { required: false, content: { "application/json": { schema: schemas.field(bodyField) } } };
    for (const field of input.fields) {
      if (field === bodyField || pathNames.includes(field.name) || pathNames.includes(field.jsonName)) continue;
      parameters.push(parameter(schemas, field, "query"));
    }
  }

  const output = method.output;
  const responseField = binding.responseBody === "" ? undefined : findField(output.fields, binding.responseBody);
  const success =
    output.typeName === "google.protobuf.Empty"
      ? { "204": { description: "Done; no content." } }
      : output.typeName === "google.api.HttpBody"
        ? { "200": { description: "The document itself, with its own content type.", content: { "text/plain": { schema: { type: "string" } } } } }
        : {
          "200": {
            description: `A \`${output.typeName}\`${responseField ? ` (its \`${responseField.jsonName}\`)` : ""}.`,
            content: { "application/json": { schema: responseField ? schemas.field(responseField) : schemas.message(output) } },
          },
        };
  const errors = Object.fromEntries(
    errorStatuses.map((status) => [String(status), { $ref: `#/components/responses/${errorResponseName(status)}` }]),
  );

  return {
    operationId: `${method.parent.name}_${method.name}`,
    summary: summaryOf(method),
    description: notes.join(" "),
    tags: [method.parent.name],
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(requestBody ? { requestBody } : {}),
    responses: { ...success, ...errors },
    security: options.publicMethods?.has(method) ? optionalCredential : anyCredential,
  };
}

/**
 * Builds the OpenAPI 3.1 document of the REST API from the protos' descriptors and `google.api.http`
 * bindings: one operation per binding, request and response schemas from the messages as proto3 JSON
 * (json_name, int64 as string, Value as any JSON, Timestamp as date-time, Empty as 204), the error
 * catalogue as the `Error` schema and per-status error responses, and the three credential schemes.
 */
export function buildOpenApiDocument(options: OpenApiOptions): OpenApiDocument {
  const schemas = createSchemaRegistry();
  const byStatus = reasonsByStatus();
  const errorStatuses = [...byStatus.keys()];
  const paths: Record<string, Record<string, OpenApiOperation>> = {};
  const seenIds = new Map<string, number>();
  const services = new Map<string, string>();
  for (const binding of options.bindings) {
    const path = openApiPath(binding.template);
    const op = operation(binding, schemas, errorStatuses, options);
    const count = seenIds.get(op.operationId) ?? 0;
    seenIds.set(op.operationId, count + 1);
    if (count > 0) op.operationId = `${op.operationId}${count + 1}`; // additional_bindings of one RPC
    (paths[path] ??= {})[binding.httpMethod.toLowerCase()] = op;
    services.set(binding.method.parent.name, binding.method.parent.typeName);
  }
  return {
    openapi: "3.1.0",
    info: {
      title: options.title,
      version: options.version,
      description:
        "Generated from the service's protobuf definitions. Errors answer `{\"error\": reason, \"message\": text}` " +
        "with the reason's HTTP status; every operation is also an RPC over gRPC, gRPC-Web and Connect.",
    },
    servers: [{ url: "/" }],
    tags: [...services].map(([name, typeName]) => ({ name, description: `gRPC service \`${typeName}\`.` })),
    paths,
    components: {
      schemas: { ...schemas.components(), Error: errorSchema() },
      responses: errorResponses(byStatus),
      securitySchemes,
    },
  };
}
