import type { CatalogueSnapshot, ColumnInfo, EnumInfo } from "./catalogue-snapshot.js";

/** A JSON Schema document (draft 2020-12), as plain JSON. */
export type JsonSchema = { [key: string]: JsonSchemaValue };
type JsonSchemaValue = string | number | boolean | null | JsonSchemaValue[] | { [key: string]: JsonSchemaValue };

/** The JSON Schema dialect of every document. */
export const jsonSchemaDialect = "https://json-schema.org/draft/2020-12/schema";

const formats: Record<string, string> = {
  uuid: "uuid",
  date: "date",
  timestamptz: "date-time",
  timestamp: "date-time",
  time: "time",
  inet: "ip",
};

/**
 * The schema of one value of PostgreSQL type `format`, as the query executor encodes it: int8
 * and numeric are numbers, or decimal strings when a double cannot hold them exactly.
 */
function valueSchema(format: string, enums: ReadonlyMap<string, EnumInfo>): JsonSchema {
  if (format.startsWith("_")) return { type: "array", items: valueSchema(format.slice(1), enums) };
  const labels = enums.get(format);
  if (labels) return { type: "string", enum: labels.enums };
  switch (format) {
    case "bool":
      return { type: "boolean" };
    case "int2":
    case "int4":
    case "oid":
      return { type: "integer" };
    case "int8":
      return { type: ["integer", "string"], pattern: "^-?\\d+$" };
    case "float4":
    case "float8":
      return { type: "number" };
    case "numeric":
      return { type: ["number", "string"] };
    case "json":
    case "jsonb":
      return {};
    default: {
      const known = formats[format];
      return known ? { type: "string", format: known } : { type: "string" };
    }
  }
}

function columnSchema(column: ColumnInfo, enums: ReadonlyMap<string, EnumInfo>): JsonSchema {
  const schema = valueSchema(column.format, enums);
  const withNull: JsonSchema =
    column.is_nullable && Object.keys(schema).length > 0 ? { anyOf: [schema, { type: "null" }] } : schema;
  return {
    ...withNull,
    ...(column.comment ? { description: column.comment } : {}),
    ...(column.default_value !== null ? { "x-default-expression": column.default_value } : {}),
    ...(column.is_generated || column.identity_generation === "ALWAYS" ? { readOnly: true } : {}),
  };
}

function rowSchema(name: string, columns: readonly ColumnInfo[], enums: ReadonlyMap<string, EnumInfo>): JsonSchema {
  return {
    title: name,
    type: "object",
    properties: Object.fromEntries(columns.map((column) => [column.name, columnSchema(column, enums)])),
    required: columns.map((column) => column.name),
    additionalProperties: false,
  };
}

/**
 * JSON Schema of the rows of every table and view of `snapshot` (under `$defs`, by name), or of
 * the one named `only` (the document itself); undefined when `only` names nothing readable. A row
 * has every column (null where nullable); enums list their labels.
 */
export function jsonSchemaOf(snapshot: CatalogueSnapshot, only?: string): JsonSchema | undefined {
  const enums = new Map(snapshot.enums.map((info) => [info.name, info]));
  const relations = [...snapshot.tables, ...snapshot.views];
  if (only !== undefined) {
    const relation = relations.find((candidate) => candidate.name === only);
    return relation ? { $schema: jsonSchemaDialect, ...rowSchema(relation.name, relation.columns, enums) } : undefined;
  }
  return {
    $schema: jsonSchemaDialect,
    $defs: Object.fromEntries(relations.map((relation) => [relation.name, rowSchema(relation.name, relation.columns, enums)])),
  };
}
