import { restError } from "./rest-errors.js";

/** Bounds on what one query string may ask for; each names the flag that sets it. */
export interface SyntaxLimits {
  /** Most values of one `in.(…)` list or `{…}` modifier list (`--rest-max-in-list`). */
  maxInList: number;
  /** Deepest nesting of `and`/`or` groups and of embedded resources (`--rest-max-depth`). */
  maxDepth: number;
}

/** One step of a JSON path: `->key` (JSON) or `->>key` (text). */
export interface JsonStep {
  arrow: "->" | "->>";
  key: string;
}

/** A column, possibly followed by a JSON path (`data->a->>b`). */
export interface FieldRef {
  column: string;
  path: JsonStep[];
}

/** One entry of `select`. */
export type SelectItem =
  | { kind: "star" }
  | { kind: "field"; field: FieldRef; alias?: string; cast?: string }
  | { kind: "embed"; relation: string; alias?: string; hint?: string; inner: boolean; spread: boolean; items: SelectItem[] };

/** Filter operators, PostgREST's names. */
export const operators = [
  "eq", "neq", "gt", "gte", "lt", "lte", "like", "ilike", "match", "imatch", "in", "is", "isdistinct",
  "fts", "plfts", "phfts", "wfts", "cs", "cd", "ov", "sl", "sr", "nxr", "nxl", "adj",
] as const;
/** One of {@link operators}. */
export type Operator = (typeof operators)[number];

const operatorSet: ReadonlySet<string> = new Set(operators);
const quantifiable: ReadonlySet<Operator> = new Set(["eq", "neq", "gt", "gte", "lt", "lte", "like", "ilike", "match", "imatch"]);
const textSearch: ReadonlySet<Operator> = new Set(["fts", "plfts", "phfts", "wfts"]);
const isValues: ReadonlySet<string> = new Set(["null", "not_null", "true", "false", "unknown"]);

/** A condition of a filter or of an `and`/`or` group. */
export type Condition =
  | {
      kind: "filter";
      field: FieldRef;
      negate: boolean;
      op: Operator;
      /** `like(any)` / `eq(all)`. */
      quantifier?: "any" | "all";
      /** Full-text search configuration, `fts(english)`. */
      language?: string;
      /** One value, or the values of `in.(…)` and of a quantifier. */
      value: string | string[];
    }
  | { kind: "group"; op: "and" | "or"; negate: boolean; conditions: Condition[] };

/** One `order` term. */
export interface OrderTerm {
  /** The embedded to-one resource ordered by (`order=customer(name)`), else undefined. */
  relation?: string;
  field: FieldRef;
  descending: boolean;
  nulls?: "first" | "last";
}

function bad(message: string, details?: string): never {
  throw restError("rest_bad_query", message, details === undefined ? {} : { details });
}

/**
 * Splits `text` at each top-level `separator`, outside double quotes (with `\` escapes),
 * parentheses and braces. Unbalanced input fails with PGRST100.
 */
export function splitTopLevel(text: string, separator = ","): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === "\\") i++;
      else if (ch === '"') quoted = false;
      continue;
    }
    if (ch === '"') quoted = true;
    else if (ch === "(" || ch === "{") depth++;
    else if (ch === ")" || ch === "}") {
      depth--;
      if (depth < 0) bad(`Unexpected "${ch}" in "${text}"`);
    } else if (ch === separator && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  if (quoted) bad(`Unterminated double quote in "${text}"`);
  if (depth !== 0) bad(`Unbalanced parentheses in "${text}"`);
  parts.push(text.slice(start));
  return parts;
}

/** A value as written: `"quoted, with \" escapes"` loses its quotes; anything else stays as is. */
function unquote(value: string): string {
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
    return value.slice(1, -1).replace(/\\(.)/g, "$1");
  }
  return value;
}

const namePattern = /^[^\s"(),:.>-][^"(),:>]*$/;

/** A column or relation name: bare, or double-quoted to hold other characters. */
function parseName(raw: string, what: string): string {
  const text = raw.trim();
  if (text.startsWith('"')) {
    if (!text.endsWith('"') || text.length < 3) bad(`Malformed quoted ${what} ${raw}`);
    return unquote(text);
  }
  if (!namePattern.test(text)) bad(`"${raw}" is not a valid ${what}`);
  return text;
}

/** Parses `col`, `col->a->>b`, `"my col"->0`. */
export function parseField(text: string): FieldRef {
  const arrow = text.search(/->/);
  if (arrow < 0) return { column: parseName(text, "column"), path: [] };
  const column = parseName(text.slice(0, arrow), "column");
  const path: JsonStep[] = [];
  const steps = /(->>?)("(?:[^"\\]|\\.)*"|[^->]+)/gy;
  steps.lastIndex = arrow;
  let match: RegExpExecArray | null;
  let end = arrow;
  while ((match = steps.exec(text)) !== null) {
    path.push({ arrow: match[1] as "->" | "->>", key: unquote(match[2] ?? "") });
    end = steps.lastIndex;
  }
  if (end !== text.length || path.length === 0) bad(`"${text}" is not a valid JSON path`);
  return { column, path };
}

const castPattern = /^[a-z][a-z0-9_ ]*(\[\])?$/;

/** Parses the `select` parameter. */
export function parseSelect(text: string, limits: SyntaxLimits, depth = 0): SelectItem[] {
  if (depth > limits.maxDepth) {
    throw restError("rest_limit_exceeded", `Embedding is nested deeper than ${limits.maxDepth} levels (--rest-max-depth)`);
  }
  if (text.trim() === "") return [{ kind: "star" }];
  return splitTopLevel(text).map((raw) => parseSelectItem(raw.trim(), limits, depth));
}

function parseSelectItem(text: string, limits: SyntaxLimits, depth: number): SelectItem {
  if (text === "") bad("Empty entry in select");
  if (text === "*") return { kind: "star" };
  let rest = text;
  const spread = rest.startsWith("...");
  if (spread) rest = rest.slice(3);
  let alias: string | undefined;
  const aliasMatch = /^("(?:[^"\\]|\\.)*"|[^:("]+):(?!:)/.exec(rest);
  if (aliasMatch?.[1] !== undefined) {
    alias = parseName(aliasMatch[1], "alias");
    rest = rest.slice(aliasMatch[0].length);
  }
  const open = rest.indexOf("(");
  if (open >= 0) {
    if (!rest.endsWith(")")) bad(`Malformed embedded resource "${text}"`);
    const [relationText, ...modifiers] = rest.slice(0, open).split("!");
    const relation = parseName(relationText ?? "", "relation");
    let hint: string | undefined;
    let inner = false;
    for (const modifier of modifiers) {
      if (modifier === "inner") inner = true;
      else if (modifier === "left") inner = false;
      else if (hint === undefined && modifier !== "") hint = parseName(modifier, "hint");
      else bad(`Malformed embedded resource "${text}"`);
    }
    const items = parseSelect(rest.slice(open + 1, -1), limits, depth + 1);
    return { kind: "embed", relation, alias, hint, inner, spread, items };
  }
  if (spread) bad(`Only embedded resources can be spread: "${text}"`);
  let cast: string | undefined;
  const castAt = rest.indexOf("::");
  if (castAt >= 0) {
    cast = rest.slice(castAt + 2).trim().toLowerCase();
    rest = rest.slice(0, castAt);
    if (!castPattern.test(cast)) bad(`"${cast}" is not a valid type to cast to`);
  }
  return { kind: "field", field: parseField(rest), alias, cast };
}

/**
 * Parses a filter's value: `[not.]op[(any|all|language)].value`. The field is parsed by the
 * caller (a query parameter's key, or the start of an `and`/`or` entry).
 */
export function parseFilterValue(field: FieldRef, text: string, limits: SyntaxLimits): Condition {
  let rest = text;
  let negate = false;
  if (rest.startsWith("not.")) {
    negate = true;
    rest = rest.slice(4);
  }
  const match = /^([a-z]+)(?:\(([a-z_0-9]+)\))?\./.exec(rest);
  if (!match) bad(`"${text}" is not a valid filter: expected operator.value`, 'Filters look like "eq.5" or "not.in.(1,2)"');
  const [prefix, name = "", modifier] = match;
  if (!operatorSet.has(name)) bad(`Unknown operator "${name}"`, `Operators: ${operators.join(", ")}`);
  const op = name as Operator;
  const value = rest.slice(prefix.length);
  const condition: Condition = { kind: "filter", field, negate, op, value };
  if (modifier !== undefined) {
    if (quantifiable.has(op) && (modifier === "any" || modifier === "all")) {
      condition.quantifier = modifier;
      condition.value = parseList(value, "{", "}", limits);
    } else if (textSearch.has(op)) {
      condition.language = modifier;
    } else {
      bad(`Operator "${op}" takes no "(${modifier})" modifier`);
    }
    return condition;
  }
  if (op === "in") condition.value = parseList(value, "(", ")", limits);
  else if (op === "is" && !isValues.has(value.toLowerCase())) {
    bad(`"is" takes null, not_null, true, false or unknown, not "${value}"`);
  }
  return condition;
}

function parseList(text: string, open: string, close: string, limits: SyntaxLimits): string[] {
  if (!text.startsWith(open) || !text.endsWith(close)) bad(`Expected a list in ${open}${close}: "${text}"`);
  const inner = text.slice(1, -1);
  if (inner.trim() === "") return [];
  const items = splitTopLevel(inner).map((item) => unquote(item.trim()));
  if (items.length > limits.maxInList) {
    throw restError("rest_limit_exceeded", `Lists may hold at most ${limits.maxInList} values (--rest-max-in-list)`);
  }
  return items;
}

/** Parses an `and=(…)`/`or=(…)` value (the parentheses included) into a group. */
export function parseGroup(op: "and" | "or", negate: boolean, text: string, limits: SyntaxLimits, depth = 1): Condition {
  if (depth > limits.maxDepth) {
    throw restError("rest_limit_exceeded", `and/or groups are nested deeper than ${limits.maxDepth} levels (--rest-max-depth)`);
  }
  if (!text.startsWith("(") || !text.endsWith(")")) bad(`"${op}" expects a list in parentheses, got "${text}"`);
  const entries = splitTopLevel(text.slice(1, -1));
  const conditions = entries.map((entry): Condition => {
    const item = entry.trim();
    const nested = /^(not\.)?(and|or)(\(.*\))$/s.exec(item);
    if (nested) return parseGroup(nested[2] as "and" | "or", nested[1] !== undefined, nested[3] ?? "", limits, depth + 1);
    const dot = fieldEnd(item);
    if (dot < 0) bad(`"${item}" is not a valid condition: expected field.operator.value`);
    return parseFilterValue(parseField(item.slice(0, dot)), item.slice(dot + 1), limits);
  });
  if (conditions.length === 0 || entries.some((entry) => entry.trim() === "")) bad(`Empty condition in ${op}=${text}`);
  return { kind: "group", op, negate, conditions };
}

/** Where the field of an `and`/`or` entry ends: the first `.` outside quotes. */
function fieldEnd(item: string): number {
  let quoted = false;
  for (let i = 0; i < item.length; i++) {
    const ch = item[i];
    if (ch === '"') quoted = !quoted;
    else if (ch === "." && !quoted) return i;
  }
  return -1;
}

/** Parses the `order` parameter: `col.desc.nullslast,other,customer(name).asc`. */
export function parseOrder(text: string): OrderTerm[] {
  return splitTopLevel(text).map((raw) => {
    const term = raw.trim();
    let relation: string | undefined;
    let rest = term;
    const embedded = /^([^(."]+)\(([^)]+)\)(.*)$/.exec(term);
    if (embedded) {
      relation = parseName(embedded[1] ?? "", "relation");
      rest = `${embedded[2] ?? ""}${embedded[3] ?? ""}`;
    }
    const parts = rest.split(".");
    let descending = false;
    let nulls: "first" | "last" | undefined;
    while (parts.length > 1) {
      const last = parts[parts.length - 1];
      if (last === "asc" || last === "desc") descending = last === "desc";
      else if (last === "nullsfirst" || last === "nullslast") nulls = last === "nullsfirst" ? "first" : "last";
      else break;
      parts.pop();
    }
    const fieldText = parts.join(".");
    if (fieldText === "") bad(`"${term}" is not a valid order term`);
    return { relation, field: parseField(fieldText), descending, nulls };
  });
}

/** Parses a non-negative integer query parameter (`limit`, `offset`). */
export function parseCount(name: string, text: string): number {
  if (!/^\d{1,15}$/.test(text)) bad(`"${name}" must be a non-negative integer, got "${text}"`);
  return Number(text);
}

/** Parses the `columns` parameter of an insert: `a,b` or `"a","b"`. */
export function parseColumns(text: string): string[] {
  return splitTopLevel(text).map((name) => parseName(name, "column"));
}
