import { escapeIdentifier } from "pg";
import { apiError } from "../errors/catalogue.js";

/** How keys that are not snake_case identifiers are treated: renamed and reported, or refused. */
export type IdentifierMode = "normalize" | "strict";

/** A name changed by {@link normalizeIdentifier}, and why. */
export interface Rename {
  from: string;
  to: string;
  reason: string;
}

/** PostgreSQL's longest identifier, in bytes (NAMEDATALEN - 1). */
export const maxIdentifierBytes = 63;

/**
 * PostgreSQL's reserved key words (the "reserved" and "reserved (can be function or type)"
 * categories of the SQL Key Words appendix): legal only when quoted, so a column named after one
 * would have to be quoted by every client forever.
 */
const reservedWords = new Set([
  "all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric", "authorization", "binary", "both",
  "case", "cast", "check", "collate", "collation", "column", "concurrently", "constraint", "create", "cross",
  "current_catalog", "current_date", "current_role", "current_schema", "current_time", "current_timestamp",
  "current_user", "default", "deferrable", "desc", "distinct", "do", "else", "end", "except", "false", "fetch", "for",
  "foreign", "freeze", "from", "full", "grant", "group", "having", "ilike", "in", "initially", "inner", "intersect",
  "into", "is", "isnull", "join", "lateral", "leading", "left", "like", "limit", "localtime", "localtimestamp",
  "natural", "not", "notnull", "null", "offset", "on", "only", "or", "order", "outer", "overlaps", "placing",
  "primary", "references", "returning", "right", "select", "session_user", "similar", "some", "symmetric",
  "system_user", "table", "tablesample", "then", "to", "trailing", "true", "union", "unique", "user", "using",
  "variadic", "verbose", "when", "where", "window", "with",
]);

const snakeCase = /^[a-z_][a-z0-9_]*$/;

/** Whether `name` is one of PostgreSQL's reserved key words. */
export function isReservedWord(name: string): boolean {
  return reservedWords.has(name.toLowerCase());
}

/**
 * Turns a key into a snake_case identifier: camelCase and PascalCase split at case changes,
 * accents dropped, every run of other characters one underscore, lower case, a leading digit
 * prefixed with `_`. Returns "" when nothing usable is left.
 */
export function toSnakeCase(key: string): string {
  return key
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1_$2")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .replace(/^(\d)/, "_$1");
}

/**
 * The identifier for `key` (a sample key or a table name; `what` names it in errors): unchanged
 * when it is already a snake_case identifier that is not reserved; otherwise, in "normalize" mode,
 * the snake_case form (reserved words get a trailing `_`) with a {@link Rename}, and in "strict"
 * mode a `schema_invalid_identifier` error naming the key. Names that cannot be normalised, or are
 * longer than 63 bytes, are always refused.
 */
export function normalizeIdentifier(key: string, mode: IdentifierMode, what: string): { name: string; rename?: Rename } {
  const refuse = (why: string) =>
    apiError("schema_invalid_identifier", `${what} ${JSON.stringify(key)} ${why}`, { metadata: { key } });
  let name = key;
  let reason: string | undefined;
  if (!snakeCase.test(key)) {
    if (mode === "strict") throw refuse("is not a snake_case identifier ([a-z_][a-z0-9_]*)");
    name = toSnakeCase(key);
    if (name === "") throw refuse("has no letters or digits to make an identifier of");
    reason = "not a snake_case identifier";
  }
  if (isReservedWord(name)) {
    if (mode === "strict") throw refuse("is a reserved SQL key word");
    name = `${name}_`;
    reason = reason ? `${reason}; reserved SQL key word` : "reserved SQL key word";
  }
  if (Buffer.byteLength(name, "utf8") > maxIdentifierBytes) throw refuse(`is longer than ${maxIdentifierBytes} bytes`);
  return reason ? { name, rename: { from: key, to: name, reason } } : { name };
}

/** `"name"`, quoted for SQL whatever it holds. */
export function quoteIdentifier(name: string): string {
  return escapeIdentifier(name);
}

/**
 * A name made of `parts` joined by `_` and `suffix`, cut to 63 bytes (PostgreSQL would cut it
 * silently, and two long names could then collide).
 */
export function derivedName(parts: readonly string[], suffix: string): string {
  const tail = `_${suffix}`;
  let head = parts.join("_");
  while (Buffer.byteLength(head + tail, "utf8") > maxIdentifierBytes) head = head.slice(0, -1);
  return head + tail;
}
