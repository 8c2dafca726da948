import type { Catalogue, CatalogueColumn, CatalogueTable } from "./schema-catalogue.js";

/** A Swagger 2.0 schema property. */
interface Property {
  type?: string;
  format: string;
  description?: string;
  default?: unknown;
  maxLength?: number;
  enum?: string[];
  items?: { type: string };
}

/** JSON Schema type of a PostgreSQL type, as PostgREST's OpenAPI output names it. */
function jsonType(column: CatalogueColumn): string {
  if (column.baseType.startsWith("_")) return "array";
  if (["int2", "int4", "int8", "oid"].includes(column.baseType)) return "integer";
  if (["numeric", "float4", "float8", "money"].includes(column.baseType)) return "number";
  if (column.baseType === "bool") return "boolean";
  if (["json", "jsonb"].includes(column.baseType)) return "object";
  return "string";
}

function property(table: CatalogueTable, column: CatalogueColumn): Property {
  const result: Property = { format: column.type, type: jsonType(column) };
  if (result.type === "object") delete result.type;
  if (result.type === "array") result.items = { type: "string" };
  const notes: string[] = [];
  if (column.comment) notes.push(column.comment);
  if (table.primaryKey.includes(column.name)) notes.push("Note:\nThis is a Primary Key.<pk/>");
  for (const key of table.foreignKeys) {
    const index = key.columns.indexOf(column.name);
    if (index >= 0 && key.columns.length === 1) {
      notes.push(`Note:\nThis is a Foreign Key to \`${key.target}.${key.targetColumns[index] ?? ""}\`.<fk table='${key.target}' column='${key.targetColumns[index] ?? ""}'/>`);
    }
  }
  if (notes.length > 0) result.description = notes.join("\n\n");
  if (column.defaultValue !== null) result.default = column.defaultValue;
  const length = /\((\d+)\)$/.exec(column.type);
  if (length && /^(character varying|character|varchar|char)/.test(column.type)) result.maxLength = Number(length[1]);
  if (column.enumValues) result.enum = column.enumValues;
  return result;
}

const ref = (name: string) => ({ $ref: `#/parameters/${name}` });

/** The shared parameters of PostgREST's document. */
const parameters = {
  select: { name: "select", description: "Filtering Columns", required: false, in: "query", type: "string" },
  order: { name: "order", description: "Ordering", required: false, in: "query", type: "string" },
  range: { name: "Range", description: "Limiting and Pagination", required: false, in: "header", type: "string" },
  rangeUnit: { name: "Range-Unit", description: "Limiting and Pagination", required: false, default: "items", in: "header", type: "string" },
  offset: { name: "offset", description: "Limiting and Pagination", required: false, in: "query", type: "string" },
  limit: { name: "limit", description: "Limiting and Pagination", required: false, in: "query", type: "string" },
  on_conflict: { name: "on_conflict", description: "On Conflict", required: false, in: "query", type: "string" },
  columns: { name: "columns", description: "Columns to insert", required: false, in: "query", type: "string" },
  preferParams: { name: "Prefer", description: "Preference", required: false, enum: ["params=single-object"], in: "header", type: "string" },
  preferReturn: { name: "Prefer", description: "Preference", required: false, enum: ["return=representation", "return=minimal", "return=none"], in: "header", type: "string" },
  preferCount: { name: "Prefer", description: "Preference", required: false, enum: ["count=none"], in: "header", type: "string" },
  preferPost: {
    name: "Prefer",
    description: "Preference",
    required: false,
    enum: ["return=representation", "return=minimal", "return=none", "resolution=ignore-duplicates", "resolution=merge-duplicates"],
    in: "header",
    type: "string",
  },
};

/**
 * The OpenAPI (Swagger 2.0) description of what one role can see, shaped like PostgREST's
 * `GET /`: a path per table or view with the verbs its privileges allow, a definition per table
 * (properties with `format`, `type`, `default`, `maxLength`, `enum`; `required` lists NOT NULL
 * columns without a default; descriptions mark keys with `<pk/>` and `<fk table column/>`).
 */
export function buildRestOpenApi(catalogue: Catalogue, options: { basePath: string; host: string }): Record<string, unknown> {
  const paths: Record<string, unknown> = {
    "/": { get: { tags: ["Introspection"], summary: "OpenAPI description (this document)", produces: ["application/openapi+json", "application/json"], responses: { 200: { description: "OK" } } } },
  };
  const definitions: Record<string, unknown> = {};
  const bodyParameters: Record<string, unknown> = {};
  for (const table of catalogue.tables.values()) {
    const columns = [...table.columns.values()];
    definitions[table.name] = {
      ...(table.comment ? { description: table.comment } : {}),
      required: columns.filter((column) => !column.nullable && column.defaultValue === null && !column.identity && !column.generated).map((column) => column.name),
      properties: Object.fromEntries(columns.map((column) => [column.name, property(table, column)])),
      type: "object",
    };
    bodyParameters[`body.${table.name}`] = { name: table.name, description: table.name, required: false, in: "body", schema: { $ref: `#/definitions/${table.name}` } };
    const rowFilters = columns.map((column) => ({ $ref: `#/parameters/rowFilter.${table.name}.${column.name}` }));
    for (const column of columns) {
      bodyParameters[`rowFilter.${table.name}.${column.name}`] = { name: column.name, required: false, format: column.type, in: "query", type: "string" };
    }
    const tag = [table.name];
    const item: Record<string, unknown> = {
      get: {
        tags: tag,
        parameters: [...rowFilters, ref("select"), ref("order"), ref("range"), ref("rangeUnit"), ref("offset"), ref("limit"), ref("preferCount")],
        responses: { 200: { description: "OK", schema: { items: { $ref: `#/definitions/${table.name}` }, type: "array" } }, 206: { description: "Partial Content" } },
      },
    };
    if (table.insertable) item.post = { tags: tag, parameters: [{ $ref: `#/parameters/body.${table.name}` }, ref("select"), ref("columns"), ref("on_conflict"), ref("preferPost")], responses: { 201: { description: "Created" } } };
    if (table.updatable) item.patch = { tags: tag, parameters: [...rowFilters, { $ref: `#/parameters/body.${table.name}` }, ref("preferReturn")], responses: { 204: { description: "No Content" } } };
    if (table.deletable) item.delete = { tags: tag, parameters: [...rowFilters, ref("preferReturn")], responses: { 204: { description: "No Content" } } };
    paths[`/${table.name}`] = item;
  }
  return {
    swagger: "2.0",
    info: { title: "HeliosDB Nano /rest/v1", description: "PostgREST-compatible access to the tables and views the caller's role can see", version: "12" },
    host: options.host,
    basePath: options.basePath,
    schemes: ["http", "https"],
    consumes: ["application/json", "application/vnd.pgrst.object+json"],
    produces: ["application/json", "application/vnd.pgrst.object+json", "text/csv"],
    paths,
    definitions,
    parameters: { ...parameters, ...bodyParameters },
    securityDefinitions: { bearer: { type: "apiKey", name: "Authorization", in: "header" } },
    security: [{ bearer: [] }],
  };
}
