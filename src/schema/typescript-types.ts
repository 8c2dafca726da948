import type { CatalogueSnapshot, ColumnInfo, EnumInfo, ForeignKeyInfo, TableInfo } from "./catalogue-snapshot.js";

const numberTypes = new Set(["int2", "int4", "int8", "float4", "float8", "numeric", "oid"]);
const stringTypes = new Set([
  "bytea", "bpchar", "varchar", "date", "text", "citext", "time", "timetz", "timestamp", "timestamptz", "uuid",
  "interval", "inet", "cidr", "macaddr", "money", "name", "char", "xml", "tsvector", "vector",
]);

const key = (name: string) => JSON.stringify(name);

/** The TypeScript type of a PostgreSQL type name, as `supabase gen types typescript` maps it. */
export function tsTypeOf(format: string, enums: ReadonlyMap<string, EnumInfo>): string {
  if (format === "bool") return "boolean";
  if (numberTypes.has(format)) return "number";
  if (stringTypes.has(format)) return "string";
  if (format === "json" || format === "jsonb") return "Json";
  if (format.startsWith("_")) return `(${tsTypeOf(format.slice(1), enums)})[]`;
  if (enums.has(format)) return `Database["public"]["Enums"][${key(format)}]`;
  return "unknown";
}

const nullable = (column: ColumnInfo, type: string) => (column.is_nullable ? `${type} | null` : type);
const byName = <T extends { name: string }>(items: readonly T[]) => [...items].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

function block(lines: readonly string[], indent: string): string {
  return lines.length === 0 ? `${indent}[_ in never]: never` : lines.join("\n");
}

function rowFields(columns: readonly ColumnInfo[], enums: ReadonlyMap<string, EnumInfo>, indent: string): string[] {
  return byName(columns).map((column) => `${indent}${key(column.name)}: ${nullable(column, tsTypeOf(column.format, enums))}`);
}

/**
 * Insert: a column is optional when it is nullable, identity or has a default (tenant_id has one:
 * the request's tenant); generated and GENERATED ALWAYS identity columns cannot be written. Update:
 * every writable column is optional.
 */
function writeFields(columns: readonly ColumnInfo[], enums: ReadonlyMap<string, EnumInfo>, indent: string, update: boolean): string[] {
  return byName(columns).map((column) => {
    if (column.is_generated || column.identity_generation === "ALWAYS") return `${indent}${key(column.name)}?: never`;
    const optional = update || column.is_nullable || column.is_identity || column.default_value !== null;
    return `${indent}${key(column.name)}${optional ? "?" : ""}: ${nullable(column, tsTypeOf(column.format, enums))}`;
  });
}

/** The `Relationships` of `table`: its own foreign keys, one entry per constraint. */
function relationships(table: TableInfo, indent: string): string[] {
  const own = new Map<string, ForeignKeyInfo[]>();
  for (const fk of table.relationships) {
    if (fk.source_table_name !== table.name) continue;
    own.set(fk.constraint_name, [...(own.get(fk.constraint_name) ?? []), fk]);
  }
  return [...own.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, pairs]) => {
      const first = pairs[0] as ForeignKeyInfo;
      const columns = pairs.map((pair) => pair.source_column_name);
      const targetColumns = pairs.map((pair) => pair.target_column_name);
      // One-to-one when the referencing columns are themselves unique in this table.
      const oneToOne = table.indexes.some((index) => index.is_unique && sameSet(index.columns, columns));
      return [
        `${indent}{`,
        `${indent}  foreignKeyName: ${key(name)}`,
        `${indent}  columns: ${JSON.stringify(columns)}`,
        `${indent}  isOneToOne: ${oneToOne}`,
        `${indent}  referencedRelation: ${key(first.target_table_name)}`,
        `${indent}  referencedColumns: ${JSON.stringify(targetColumns)}`,
        `${indent}},`,
      ].join("\n");
    });
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((item) => b.includes(item));
}

/**
 * A TypeScript module typing `snapshot` the way `supabase gen types typescript` does:
 * `Database["public"]` with `Tables` (`Row`, `Insert`, `Update`, `Relationships`), `Views`,
 * `Functions` (none can be created here), `Enums` and `CompositeTypes`, plus the `Tables`,
 * `TablesInsert`, `TablesUpdate` and `Enums` helpers and the `Constants` object, so that
 * `createClient<Database>(…)` from supabase-js types its `from()` calls. Names are sorted, so the
 * same schema always gives the same text.
 */
export function generateTypescript(snapshot: CatalogueSnapshot): string {
  const enums = new Map(snapshot.enums.map((info) => [info.name, info]));
  const i = (depth: number) => "  ".repeat(depth);
  const tables = byName(snapshot.tables).map((table) =>
    [
      `${i(3)}${key(table.name)}: {`,
      `${i(4)}Row: {`,
      block(rowFields(table.columns, enums, i(5)), i(5)),
      `${i(4)}}`,
      `${i(4)}Insert: {`,
      block(writeFields(table.columns, enums, i(5), false), i(5)),
      `${i(4)}}`,
      `${i(4)}Update: {`,
      block(writeFields(table.columns, enums, i(5), true), i(5)),
      `${i(4)}}`,
      `${i(4)}Relationships: [`,
      ...relationships(table, i(5)),
      `${i(4)}]`,
      `${i(3)}}`,
    ].join("\n"),
  );
  const views = byName(snapshot.views).map((view) =>
    [
      `${i(3)}${key(view.name)}: {`,
      `${i(4)}Row: {`,
      block(rowFields(view.columns, enums, i(5)), i(5)),
      `${i(4)}}`,
      ...(view.is_updatable
        ? [
            `${i(4)}Insert: {`,
            block(byName(view.columns).map((c) => `${i(5)}${key(c.name)}?: ${c.is_updatable ? `${tsTypeOf(c.format, enums)} | null` : "never"}`), i(5)),
            `${i(4)}}`,
            `${i(4)}Update: {`,
            block(byName(view.columns).map((c) => `${i(5)}${key(c.name)}?: ${c.is_updatable ? `${tsTypeOf(c.format, enums)} | null` : "never"}`), i(5)),
            `${i(4)}}`,
          ]
        : []),
      `${i(4)}Relationships: []`,
      `${i(3)}}`,
    ].join("\n"),
  );
  const enumLines = byName(snapshot.enums).map((info) => `${i(3)}${key(info.name)}: ${info.enums.map(key).join(" | ") || "never"}`);
  const constants = byName(snapshot.enums).map((info) => `${i(3)}${key(info.name)}: [${info.enums.map(key).join(", ")}],`);
  return `${[
    "export type Json = string | number | boolean | null | { [key: string]: Json | undefined } | Json[]",
    "",
    "export type Database = {",
    `${i(1)}public: {`,
    `${i(2)}Tables: {`,
    block(tables, i(3)),
    `${i(2)}}`,
    `${i(2)}Views: {`,
    block(views, i(3)),
    `${i(2)}}`,
    `${i(2)}Functions: {`,
    `${i(3)}[_ in never]: never`,
    `${i(2)}}`,
    `${i(2)}Enums: {`,
    block(enumLines, i(3)),
    `${i(2)}}`,
    `${i(2)}CompositeTypes: {`,
    `${i(3)}[_ in never]: never`,
    `${i(2)}}`,
    `${i(1)}}`,
    "}",
    "",
    helpers,
    "export const Constants = {",
    `${i(1)}public: {`,
    `${i(2)}Enums: {`,
    ...constants,
    `${i(2)}},`,
    `${i(1)}},`,
    "} as const",
  ].join("\n")}\n`;
}

/** The helper types of supabase's generated module, for the default schema public. */
const helpers = `type DefaultSchema = Database["public"]

export type Tables<
  TableName extends keyof (DefaultSchema["Tables"] & DefaultSchema["Views"]),
> = (DefaultSchema["Tables"] & DefaultSchema["Views"])[TableName] extends { Row: infer R } ? R : never

export type TablesInsert<TableName extends keyof DefaultSchema["Tables"]> =
  DefaultSchema["Tables"][TableName] extends { Insert: infer I } ? I : never

export type TablesUpdate<TableName extends keyof DefaultSchema["Tables"]> =
  DefaultSchema["Tables"][TableName] extends { Update: infer U } ? U : never

export type Enums<EnumName extends keyof DefaultSchema["Enums"]> = DefaultSchema["Enums"][EnumName]
`;
