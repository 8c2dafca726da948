import { ScalarType, type DescEnum, type DescField, type DescMessage } from "@bufbuild/protobuf";

/** A JSON Schema (2020-12, the dialect of OpenAPI 3.1) as plain JSON. */
export type JsonSchema = { [keyword: string]: unknown };

/** The `$ref` prefix of component schemas. */
const componentPrefix = "#/components/schemas/";

/**
 * The proto3 JSON mapping of the well-known types, which do not serialise as objects of their fields.
 * See https://protobuf.dev/programming-guides/json/.
 */
const wellKnown: Record<string, JsonSchema> = {
  "google.protobuf.Timestamp": { type: "string", format: "date-time" },
  "google.protobuf.Duration": { type: "string", pattern: "^-?[0-9]+(\\.[0-9]{1,9})?s$", examples: ["1.5s"] },
  "google.protobuf.Value": { description: "Any JSON value." },
  "google.protobuf.Struct": { type: "object", additionalProperties: true },
  "google.protobuf.ListValue": { type: "array", items: {} },
  "google.protobuf.Empty": { type: "object", additionalProperties: false },
  "google.protobuf.FieldMask": { type: "string", description: "Comma-separated lowerCamelCase field paths." },
  "google.protobuf.Any": {
    type: "object",
    properties: { "@type": { type: "string" } },
    required: ["@type"],
    additionalProperties: true,
  },
  "google.protobuf.DoubleValue": { type: ["number", "null"], format: "double" },
  "google.protobuf.FloatValue": { type: ["number", "null"], format: "float" },
  "google.protobuf.Int64Value": { type: ["string", "null"], format: "int64" },
  "google.protobuf.UInt64Value": { type: ["string", "null"], format: "uint64" },
  "google.protobuf.Int32Value": { type: ["integer", "null"], format: "int32" },
  "google.protobuf.UInt32Value": { type: ["integer", "null"], format: "uint32" },
  "google.protobuf.BoolValue": { type: ["boolean", "null"] },
  "google.protobuf.StringValue": { type: ["string", "null"] },
  "google.protobuf.BytesValue": { type: ["string", "null"], contentEncoding: "base64" },
};

/** The JSON schema of a scalar: 64-bit integers are strings in proto3 JSON, bytes are base64. */
export function scalarSchema(scalar: ScalarType): JsonSchema {
  switch (scalar) {
    case ScalarType.DOUBLE:
      return { type: "number", format: "double" };
    case ScalarType.FLOAT:
      return { type: "number", format: "float" };
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return { type: "integer", format: "int32" };
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return { type: "integer", format: "uint32", minimum: 0, maximum: 4294967295 };
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return { type: "string", format: "int64", pattern: "^-?[0-9]+$" };
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return { type: "string", format: "uint64", pattern: "^[0-9]+$" };
    case ScalarType.BOOL:
      return { type: "boolean" };
    case ScalarType.STRING:
      return { type: "string" };
    case ScalarType.BYTES:
      return { type: "string", contentEncoding: "base64" };
  }
}

function enumSchema(desc: DescEnum): JsonSchema {
  if (desc.typeName === "google.protobuf.NullValue") return { type: "null" };
  return { type: "string", enum: desc.values.map((value) => value.name) };
}

/**
 * Collects the component schemas of messages, keyed by full type name, as the proto3 JSON mapping
 * serialises them (field `json_name`s, well-known types by their special JSON forms).
 */
export interface SchemaRegistry {
  /** The schema of a value of `message`: a `$ref` to its component, or the inline well-known form. */
  message(message: DescMessage): JsonSchema;
  /** The schema of one field's JSON value. */
  field(field: DescField): JsonSchema;
  /** Every component schema registered so far, sorted by name. */
  components(): Record<string, JsonSchema>;
}

/** `schema` with `description` added, when there is one. */
export function described(schema: JsonSchema, description: string | undefined): JsonSchema {
  return description ? { ...schema, description } : schema;
}

/**
 * Creates an empty {@link SchemaRegistry}. `comments` (proto comments by full name, such as
 * `helios.query.v1.QueryRequest.sql`) become the descriptions of messages and their fields.
 */
export function createSchemaRegistry(comments: Readonly<Record<string, string>> = {}): SchemaRegistry {
  const components = new Map<string, JsonSchema>();

  function message(desc: DescMessage): JsonSchema {
    const known = wellKnown[desc.typeName];
    if (known) return { ...known };
    if (!components.has(desc.typeName)) {
      components.set(desc.typeName, {}); // Placeholder first: messages may refer to themselves.
      const properties: Record<string, JsonSchema> = {};
      for (const f of desc.fields) properties[f.jsonName] = described(field(f), comments[`${desc.typeName}.${f.name}`]);
      components.set(desc.typeName, described({ type: "object", title: desc.name, properties }, comments[desc.typeName]));
    }
    return { $ref: `${componentPrefix}${desc.typeName}` };
  }

  function element(kind: "scalar" | "enum" | "message", f: { scalar?: ScalarType; enum?: DescEnum; message?: DescMessage }): JsonSchema {
    if (kind === "message" && f.message) return message(f.message);
    if (kind === "enum" && f.enum) return enumSchema(f.enum);
    if (f.scalar !== undefined) return scalarSchema(f.scalar);
    throw new Error(`unsupported ${kind} field`);
  }

  function field(f: DescField): JsonSchema {
    switch (f.fieldKind) {
      case "scalar":
        return scalarSchema(f.scalar);
      case "enum":
        return enumSchema(f.enum);
      case "message":
        return message(f.message);
      case "list":
        return { type: "array", items: element(f.listKind, f) };
      case "map":
        return { type: "object", additionalProperties: element(f.mapKind, f) };
    }
  }

  return {
    message,
    field,
    components: () => Object.fromEntries([...components].sort(([a], [b]) => a.localeCompare(b))),
  };
}
