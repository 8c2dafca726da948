import pg from "pg";
import type { JsonValue } from "../query/result-encoding.js";
import type { Preferences } from "./preferences.js";
import { resolveRelationship, type Relationship } from "./relationships.js";
import { restError } from "./rest-errors.js";
import type { Catalogue, CatalogueTable } from "./schema-catalogue.js";
import {
  parseColumns,
  parseCount,
  parseField,
  parseFilterValue,
  parseGroup,
  parseOrder,
  parseSelect,
  type Condition,
  type FieldRef,
  type OrderTerm,
  type SelectItem,
  type SyntaxLimits,
} from "./syntax.js";

/** The verbs of `/rest/v1/{table}`. */
export type RestMethod = "GET" | "HEAD" | "POST" | "PATCH" | "DELETE";

/** A `/rest/v1/{table}` request, parsed from HTTP but not yet checked against the catalogue. */
export interface RestRequest {
  method: RestMethod;
  table: string;
  query: URLSearchParams;
  prefer: Preferences;
  /** The parsed JSON body of POST and PATCH. */
  body?: unknown;
  /** `Accept: application/vnd.pgrst.object+json`: exactly one row or PGRST116. */
  singular: boolean;
  /** From a `Range: a-b` header, when no `limit`/`offset` parameters are given. */
  range?: { offset: number; limit?: number };
}

/** Bounds of a translation. */
export interface TranslateLimits extends SyntaxLimits {
  /** Most rows one answer (and one embedded array) carries: the query row cap. */
  maxRows: number;
}

/**
 * One parameterised statement answering a `/rest` request. It returns one row: `total` (the count
 * asked for, or null), `page` (rows in the answer) and `body` (their JSON array as text, or null
 * for `return=minimal`).
 */
export interface Translation {
  sql: string;
  params: JsonValue[];
  readOnly: boolean;
  /** Offset of the first row answered, for `Content-Range`. */
  offset: number;
  /** Output names of the top-level select, for CSV headers. */
  columns: string[];
  /** Primary-key columns of the table, for `Location`. */
  primaryKey: string[];
  /** Preferences honoured. */
  applied: string[];
}

/** Marks the error a singular write raises to roll itself back (see {@link singularGuard}). */
export const singularMarker = "pgrst_singular_violation:";

/** Types a select may cast to: plain data types, none of whose input functions reach the catalog. */
const castTypes: ReadonlySet<string> = new Set([
  "text", "varchar", "char", "character varying", "character", "bpchar", "citext",
  "int", "integer", "int2", "int4", "int8", "smallint", "bigint", "numeric", "decimal", "real",
  "float4", "float8", "double precision", "bool", "boolean", "json", "jsonb", "uuid", "date", "time",
  "timetz", "timestamp", "timestamptz", "interval", "bytea", "inet", "cidr", "money",
]);

const comparison: Record<string, string> = {
  eq: "=", neq: "<>", gt: ">", gte: ">=", lt: "<", lte: "<=",
  like: "LIKE", ilike: "ILIKE", match: "~", imatch: "~*",
  cs: "@>", cd: "<@", ov: "&&", sl: "<<", sr: ">>", nxr: "&<", nxl: "&>", adj: "-|-",
  isdistinct: "IS DISTINCT FROM",
};

const tsQuery: Record<string, string> = {
  fts: "pg_catalog.to_tsquery",
  plfts: "pg_catalog.plainto_tsquery",
  phfts: "pg_catalog.phraseto_tsquery",
  wfts: "pg_catalog.websearch_to_tsquery",
};

const q = (name: string) => pg.escapeIdentifier(name);

/** A PostgreSQL array literal of `values`, every element quoted. */
function arrayLiteral(values: readonly string[]): string {
  return `{${values.map((value) => `"${value.replace(/[\\"]/g, "\\$&")}"`).join(",")}}`;
}

/** Expressions of a select list and the names they answer under. */
interface SelectList {
  exprs: string[];
  names: string[];
}

const renderList = (list: SelectList) => list.exprs.map((expr, i) => `${expr} AS ${q(list.names[i] ?? "")}`).join(", ");

/** Filters, order and paging of one resource, collected from the query string. */
interface Shaping {
  conditions: Condition[];
  order?: OrderTerm[];
  limit?: number;
  offset?: number;
}

/** One table in the statement: the top one, or an embedded one. */
interface Node {
  table: CatalogueTable;
  alias: string;
  items: SelectItem[];
  shaping: Shaping;
  /** Embedded resources by the name the query string uses for them (alias, else relation). */
  children: Map<string, { node: Node; relationship: Relationship; item: Extract<SelectItem, { kind: "embed" }> }>;
}

class Builder {
  readonly params: JsonValue[] = [];
  private aliases = 0;

  constructor(
    readonly catalogue: Catalogue,
    readonly limits: TranslateLimits,
  ) {}

  param(value: JsonValue): string {
    this.params.push(value);
    return `$${this.params.length}`;
  }

  alias(): string {
    return `_pgrst_${this.aliases++}`;
  }

  table(name: string): CatalogueTable {
    const table = this.catalogue.tables.get(name);
    if (!table) throw restError("rest_unknown_table", `Could not find the table 'public.${name}' in the schema cache`);
    return table;
  }

  column(table: CatalogueTable, name: string): string {
    if (!table.columns.has(name)) {
      throw restError("rest_unknown_column", `column ${table.name}.${name} does not exist`, { code: "42703" });
    }
    return q(name);
  }

  field(node: Node, field: FieldRef): string {
    let expr = `${node.alias}.${this.column(node.table, field.column)}`;
    for (const step of field.path) {
      const key = /^-?\d+$/.test(step.key) ? `${this.param(Number(step.key))}::integer` : `${this.param(step.key)}::text`;
      expr = `(${expr} ${step.arrow} ${key})`;
    }
    return expr;
  }

  condition(node: Node, condition: Condition): string {
    if (condition.kind === "group") {
      const joined = condition.conditions.map((child) => this.condition(node, child)).join(` ${condition.op.toUpperCase()} `);
      return condition.negate ? `NOT (${joined})` : `(${joined})`;
    }
    const lhs = this.field(node, condition.field);
    const { op, value } = condition;
    let sql: string;
    const likeValue = (text: string) => (op === "like" || op === "ilike" ? text.replaceAll("*", "%") : text);
    if (condition.quantifier) {
      const values = (value as string[]).map(likeValue);
      sql = `${lhs} ${comparison[op]} ${condition.quantifier.toUpperCase()}(${this.param(arrayLiteral(values))})`;
    } else if (op === "in") {
      sql = `${lhs} = ANY(${this.param(arrayLiteral(value as string[]))})`;
    } else if (op === "is") {
      const keyword = { null: "NULL", not_null: "NOT NULL", true: "TRUE", false: "FALSE", unknown: "UNKNOWN" }[(value as string).toLowerCase()];
      sql = `${lhs} IS ${keyword ?? "NULL"}`;
    } else if (op in tsQuery) {
      const language = condition.language === undefined ? "" : `${this.param(condition.language)}::regconfig, `;
      sql = `${lhs} @@ ${tsQuery[op]}(${language}${this.param(value as string)})`;
    } else {
      sql = `${lhs} ${comparison[op]} ${this.param(likeValue(value as string))}`;
    }
    return condition.negate ? `NOT (${sql})` : sql;
  }

  /** The WHERE conditions of `node`: its filters and, for `!inner` embeds, that a match exists. */
  where(node: Node, joins: string[]): string {
    const parts = [...joins, ...node.shaping.conditions.map((condition) => this.condition(node, condition))];
    for (const { node: child, relationship, item } of node.children.values()) {
      if (!item.inner) continue;
      parts.push(`EXISTS (SELECT 1 FROM ${this.from(child)}${this.where(child, this.joinConditions(node, child, relationship))})`);
    }
    return parts.length === 0 ? "" : ` WHERE ${parts.join(" AND ")}`;
  }

  from(node: Node): string {
    return `public.${q(node.table.name)} ${node.alias}`;
  }

  joinConditions(parent: Node, child: Node, relationship: Relationship): string[] {
    return relationship.joins.map(([parentColumn, childColumn]) => `${child.alias}.${q(childColumn)} = ${parent.alias}.${q(parentColumn)}`);
  }

  orderBy(node: Node): string {
    const terms = node.shaping.order;
    if (!terms || terms.length === 0) return "";
    const rendered = terms.map((term) => {
      let expr: string;
      if (term.relation !== undefined) {
        const embedded = node.children.get(term.relation);
        if (!embedded?.relationship.toOne) {
          throw restError("rest_bad_query", `'${term.relation}' is not an embedded to-one resource of '${node.table.name}' and cannot be ordered by`);
        }
        expr = `(SELECT ${this.field(embedded.node, term.field)} FROM ${this.from(embedded.node)} WHERE ${this.joinConditions(node, embedded.node, embedded.relationship).join(" AND ")})`;
      } else {
        expr = this.field(node, term.field);
      }
      const nulls = term.nulls === undefined ? "" : ` NULLS ${term.nulls.toUpperCase()}`;
      return `${expr} ${term.descending ? "DESC" : "ASC"}${nulls}`;
    });
    return ` ORDER BY ${rendered.join(", ")}`;
  }

  paging(node: Node, defaultLimit: number): string {
    const limit = Math.min(node.shaping.limit ?? defaultLimit, this.limits.maxRows);
    const offset = node.shaping.offset ?? 0;
    return ` LIMIT ${this.param(limit)}::bigint${offset > 0 ? ` OFFSET ${this.param(offset)}::bigint` : ""}`;
  }

  /** The select list of `node`: one expression per output column, and the columns' names. */
  selectList(node: Node): SelectList {
    const exprs: string[] = [];
    const names: string[] = [];
    const add = (expr: string, name: string) => {
      exprs.push(expr);
      names.push(name);
    };
    for (const item of node.items) {
      if (item.kind === "star") {
        for (const column of node.table.columns.values()) if (column.selectable) add(`${node.alias}.${q(column.name)}`, column.name);
      } else if (item.kind === "field") {
        let expr = this.field(node, item.field);
        if (item.cast !== undefined) {
          const base = item.cast.replace(/\[\]$/, "");
          if (!castTypes.has(base)) throw restError("rest_bad_query", `Casting to "${item.cast}" is not supported`, { hint: `Cast to one of: ${[...castTypes].join(", ")}` });
          expr = `CAST(${expr} AS ${item.cast})`;
        }
        add(expr, item.alias ?? item.field.path.at(-1)?.key ?? item.field.column);
      } else {
        const embedded = node.children.get(item.alias ?? item.relation);
        if (!embedded) continue;
        const { node: child, relationship } = embedded;
        const joins = this.joinConditions(node, child, relationship);
        if (item.spread) {
          const inner = this.selectList(child);
          const from = `${this.from(child)}${this.where(child, joins)}`;
          inner.exprs.forEach((expr, i) => add(`(SELECT ${expr} FROM ${from} LIMIT 1)`, inner.names[i] ?? ""));
          continue;
        }
        const source = `SELECT ${renderList(this.selectList(child))} FROM ${this.from(child)}${this.where(child, joins)}`;
        const row = this.alias();
        add(
          relationship.toOne
            ? `(SELECT pg_catalog.row_to_json(${row}.*) FROM (${source} LIMIT 1) ${row})`
            : `(SELECT coalesce(pg_catalog.json_agg(${row}.*), '[]') FROM (${source}${this.orderBy(child)}${this.paging(child, this.limits.maxRows)}) ${row})`,
          item.alias ?? item.relation,
        );
      }
    }
    return { exprs, names };
  }

  /** Builds the node tree of `items` on `table`, resolving every embed against the catalogue. */
  node(table: CatalogueTable, items: SelectItem[]): Node {
    const node: Node = { table, alias: this.alias(), items, shaping: { conditions: [] }, children: new Map() };
    for (const item of items) {
      if (item.kind !== "embed") continue;
      const relationship = resolveRelationship(this.catalogue, table, item.relation, item.hint);
      if (item.spread && !relationship.toOne) {
        throw restError("rest_bad_query", `A spread operation on '${item.relation}' is not possible: it is a to-many relationship`);
      }
      const key = item.alias ?? item.relation;
      node.children.set(key, { node: this.node(relationship.target, item.items), relationship, item });
    }
    return node;
  }
}

/** Walks `path` (embed names) from `root`, failing when a name is not embedded. */
function nodeAt(root: Node, path: string[], key: string): Node {
  let node = root;
  for (const name of path) {
    const child = node.children.get(name)?.node;
    if (!child) {
      throw restError("rest_bad_query", `'${name}' in '${key}' is not an embedded resource of '${node.table.name}'`, {
        hint: `Add ${name}(...) to select to filter it`,
      });
    }
    node = child;
  }
  return node;
}

/** Reads filters, logic groups, order and paging of every level from the query string. */
function collectShaping(root: Node, query: URLSearchParams, limits: SyntaxLimits, singleTableOnly: boolean): void {
  for (const [key, value] of query) {
    if (key === "select" || key === "columns" || key === "on_conflict" || key === "apikey") continue;
    const arrow = key.indexOf("->");
    const head = arrow < 0 ? key : key.slice(0, arrow);
    const segments = head.split(".");
    const last = segments.pop() ?? "";
    let negated = false;
    if (last === "or" || last === "and") {
      if (segments.at(-1) === "not") {
        segments.pop();
        negated = true;
      }
    }
    const field = arrow < 0 ? last : `${last}${key.slice(arrow)}`;
    if (singleTableOnly && segments.length > 0) {
      throw restError("rest_bad_query", `Filters on embedded resources ('${key}') are not allowed on writes`);
    }
    const node = nodeAt(root, segments, key);
    const shaping = node.shaping;
    if (last === "or" || last === "and") shaping.conditions.push(parseGroup(last, negated, value, limits));
    else if (last === "order") shaping.order = parseOrder(value);
    else if (last === "limit") shaping.limit = parseCount(key, value);
    else if (last === "offset") shaping.offset = parseCount(key, value);
    else shaping.conditions.push(parseFilterValue(parseField(field), value, limits));
  }
}

/**
 * The count asked for by `Prefer: count=…`, over `node`'s filtered rows, as the caller may see
 * them. `planned` and `estimated` are answered exactly too: the planner's statistics
 * (`pg_class.reltuples`, EXPLAIN) count every tenant's rows, which is not the caller's to know.
 */
function countExpression(builder: Builder, node: Node, where: string, count: Preferences["count"]): string {
  if (count === undefined) return "NULL::bigint";
  return `(SELECT pg_catalog.count(*) FROM ${builder.from(node)}${where})`;
}

/**
 * The final SELECT over `source` (a subquery or the write's CTE): count, rows answered and their
 * JSON. A singular write that touched other than one row fails inside the statement, so that it
 * rolls back (PostgREST does the same).
 */
function envelope(total: string, rows: string, body: boolean, singularWrite: boolean): string {
  const page = "pg_catalog.count(_pgrst_t.*)";
  const json = body ? "coalesce(pg_catalog.json_agg(_pgrst_t.*), '[]')::text" : "NULL::text";
  const guard = singularWrite ? `, ${singularGuard(page)} AS singular` : "";
  return `SELECT ${total} AS total, ${page} AS page, ${json} AS body${guard} FROM (${rows}) _pgrst_t`;
}

/** An expression that fails with {@link singularMarker} and the row count unless `page` is 1. */
function singularGuard(page: string): string {
  return `CASE WHEN ${page} <> 1 THEN ('${singularMarker}' || ${page}::text)::integer END`;
}

/** The rows of a POST body: an object or a non-empty array of objects. */
function bodyRows(body: unknown): Record<string, JsonValue>[] {
  const isObject = (value: unknown): value is Record<string, JsonValue> => typeof value === "object" && value !== null && !Array.isArray(value);
  if (isObject(body)) return [body];
  if (Array.isArray(body) && body.every(isObject)) return body;
  throw restError("rest_bad_body", "Could not parse the request body: expected a JSON object or an array of objects", {
    details: "The body must be a JSON object or an array of JSON objects",
  });
}

/** The columns written: `columns=` if given, else the body's keys (the same in every row). */
function writtenColumns(table: CatalogueTable, rows: Record<string, JsonValue>[], columnsParam: string | null): string[] {
  let columns: string[];
  if (columnsParam !== null) {
    columns = parseColumns(columnsParam);
  } else {
    const first = Object.keys(rows[0] ?? {});
    for (const row of rows) {
      const keys = Object.keys(row);
      if (keys.length !== first.length || !keys.every((name) => first.includes(name))) {
        throw restError("rest_bad_body", "All object keys must match", { details: "Every object of an array body must have the same keys; send ?columns= to insert a subset" });
      }
    }
    columns = first;
  }
  for (const name of columns) {
    if (!table.columns.has(name)) {
      throw restError("rest_unknown_column", `Could not find the '${name}' column of '${table.name}' in the schema cache`);
    }
  }
  return [...new Set(columns)];
}

/**
 * Translates a `/rest/v1/{table}` request into one parameterised statement, checking every table,
 * column and relationship against `catalogue` (what the caller's role can see) and quoting every
 * identifier; every value is a bound parameter. Pure: it reads nothing but its arguments.
 */
export function translate(request: RestRequest, catalogue: Catalogue, limits: TranslateLimits): Translation {
  const builder = new Builder(catalogue, limits);
  const table = builder.table(request.table);
  const { query, prefer } = request;
  const applied: string[] = [];
  const reading = request.method === "GET" || request.method === "HEAD";
  const returnPref = reading ? "representation" : (prefer.return ?? "minimal");
  if (!reading && prefer.return !== undefined) applied.push(`return=${prefer.return}`);
  if (prefer.count !== undefined) applied.push("count=exact");

  const items = parseSelect(query.get("select") ?? "*", limits);
  const root = builder.node(table, items);
  collectShaping(root, query, limits, !reading);
  if (reading && request.range && root.shaping.limit === undefined && root.shaping.offset === undefined) {
    root.shaping.offset = request.range.offset;
    root.shaping.limit = request.range.limit;
  }
  const offset = root.shaping.offset ?? 0;

  if (reading) {
    const where = builder.where(root, []);
    const total = countExpression(builder, root, where, prefer.count);
    const list = builder.selectList(root);
    const rows = `SELECT ${renderList(list)} FROM ${builder.from(root)}${where}${builder.orderBy(root)}${builder.paging(root, limits.maxRows)}`;
    return {
      sql: envelope(total, rows, true, false),
      params: builder.params,
      readOnly: true,
      offset,
      columns: list.names,
      primaryKey: table.primaryKey,
      applied,
    };
  }

  if (root.shaping.limit !== undefined || root.shaping.offset !== undefined || root.shaping.order !== undefined) {
    throw restError("rest_bad_query", `limit, offset and order are not supported on ${request.method}`);
  }
  // The written rows, as the CTE `source` returns them, take the root's alias in the answer's select.
  const source = builder.alias();
  const write = writeStatement(builder, request, root, applied);
  const list = builder.selectList(root);
  const withBody = returnPref === "representation" || returnPref === "headers-only";
  const keys = table.primaryKey.map((name) => `${root.alias}.${q(name)}`).join(", ");
  const rowsSql = `SELECT ${returnPref === "headers-only" ? keys || "1" : renderList(list)} FROM ${source} ${root.alias}`;
  const total = prefer.count === undefined ? "NULL::bigint" : "pg_catalog.count(_pgrst_t.*)";
  const sql = `WITH ${source} AS (${write}) ${envelope(total, rowsSql, withBody, request.singular)}`;
  return { sql, params: builder.params, readOnly: false, offset: 0, columns: list.names, primaryKey: table.primaryKey, applied };
}

/** The INSERT, UPDATE or DELETE of a write, returning the rows it wrote, aliased `root.alias`. */
function writeStatement(builder: Builder, request: RestRequest, root: Node, applied: string[]): string {
  const { table, alias } = root;
  const target = `public.${q(table.name)}`;
  const rowType = `NULL::${target}`;
  if (request.method === "DELETE") {
    return `DELETE FROM ${target} AS ${alias}${builder.where(root, [])} RETURNING ${alias}.*`;
  }
  if (request.method === "PATCH") {
    const body = request.body;
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      throw restError("rest_bad_body", "Could not parse the request body: PATCH expects a JSON object");
    }
    const row = body as Record<string, JsonValue>;
    const columns = writtenColumns(table, [row], request.query.get("columns"));
    if (columns.length === 0) return `SELECT * FROM ${target} AS ${alias} WHERE false`;
    const names = columns.map(q).join(", ");
    return `UPDATE ${target} AS ${alias} SET (${names}) = (SELECT ${names} FROM pg_catalog.json_populate_record(${rowType}, ${builder.param(row)}::json))${builder.where(root, [])} RETURNING ${alias}.*`;
  }
  const rows = bodyRows(request.body);
  const columns = writtenColumns(table, rows, request.query.get("columns"));
  const names = columns.map(q).join(", ");
  let insert: string;
  const sparse = rows.some((row) => columns.some((name) => !Object.hasOwn(row, name)));
  if (request.prefer.missing === "default" && sparse) {
    applied.push("missing=default");
    const values = rows.map((row) => {
      const record = `pg_catalog.json_populate_record(${rowType}, ${builder.param(row)}::json)`;
      return `(${columns.map((name) => (Object.hasOwn(row, name) ? `(${record}).${q(name)}` : "DEFAULT")).join(", ")})`;
    });
    insert = `INSERT INTO ${target} AS ${alias} (${names}) VALUES ${values.join(", ")}`;
  } else if (columns.length === 0) {
    insert = `INSERT INTO ${target} AS ${alias} SELECT FROM pg_catalog.json_populate_recordset(${rowType}, ${builder.param(rows)}::json)`;
  } else {
    if (request.prefer.missing === "default") applied.push("missing=default");
    insert = `INSERT INTO ${target} AS ${alias} (${names}) SELECT ${names} FROM pg_catalog.json_populate_recordset(${rowType}, ${builder.param(rows)}::json)`;
  }
  const conflict = request.query.get("on_conflict");
  const resolution = request.prefer.resolution;
  if (resolution !== undefined) {
    applied.push(`resolution=${resolution}`);
    const keys = conflict === null ? table.primaryKey : parseColumns(conflict);
    for (const name of keys) builder.column(table, name);
    if (keys.length === 0) throw restError("rest_bad_query", `'${table.name}' has no primary key: name the conflict columns with on_conflict`);
    const updates = columns.filter((name) => !keys.includes(name));
    insert += resolution === "ignore-duplicates" || updates.length === 0
      ? ` ON CONFLICT (${keys.map(q).join(", ")}) DO NOTHING`
      : ` ON CONFLICT (${keys.map(q).join(", ")}) DO UPDATE SET ${updates.map((name) => `${q(name)} = EXCLUDED.${q(name)}`).join(", ")}`;
  } else if (conflict !== null) {
    // PostgREST ignores on_conflict without a resolution preference; so do we, after checking it.
    for (const name of parseColumns(conflict)) builder.column(table, name);
  }
  return `${insert} RETURNING ${alias}.*`;
}
