import { apiError } from "../errors/catalogue.js";
import { bareObject } from "../util/bare-object.js";

/** A JSON value, as rows and parameters carry them. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Turns one PostgreSQL text-format value into JSON without silent loss. */
export type Decoder = (text: string) => JsonValue;

/** One result column: its name and PostgreSQL type name ("int4", "timestamptz", "text[]"...). */
export interface QueryColumn {
  name: string;
  type: string;
}

/** The plain result of one statement; the RPC layer turns it into a `QueryResponse`. */
export interface QueryResult {
  columns: QueryColumn[];
  /** Objects keyed by column name (later duplicates win), or arrays in array mode. */
  rows: JsonValue[][] | Record<string, JsonValue>[];
  /** Rows returned, or rows affected by INSERT, UPDATE, DELETE or MERGE. */
  row_count: number;
  /** The command tag without counts, such as "SELECT", "INSERT" or "CREATE TABLE". */
  command: string;
  /** True when more rows existed than the row cap allowed. */
  truncated: boolean;
  /** What the service says about the statement: a table's kind after DDL, keys without tenant_id. */
  notices?: string[];
}

const text: Decoder = (value) => value;

const bool: Decoder = (value) => value === "t";

/** int2, int4, oid and the like: always exact as a double. */
const integer: Decoder = (value) => Number(value);

/** int8: a number when it is a safe integer, else the exact decimal string. */
const int8: Decoder = (value) => {
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : value;
};

/** float4/float8: numbers, except NaN and ±Infinity, which JSON cannot carry. */
const float: Decoder = (value) => {
  const n = Number(value);
  return Number.isFinite(n) ? n : value;
};

/**
 * numeric: a number when the double prints back as the same decimal (trailing fractional zeros
 * aside) and stays within ±(2^53−1); otherwise the exact string. NaN and ±Infinity stay strings.
 */
const numeric: Decoder = (value) => {
  const n = Number(value);
  if (!Number.isFinite(n) || Math.abs(n) > Number.MAX_SAFE_INTEGER) return value;
  const canonical = value.includes(".") ? value.replace(/\.?0+$/, "") : value;
  return String(n) === canonical ? n : value;
};

/**
 * The deepest nesting of arrays and objects a json/jsonb value in a result may have. Every layer
 * after decoding (protobuf `Value`s, their binary and JSON writers) recurses once or twice per level,
 * so values past about a thousand levels overflowed the stack; and protobuf readers (protobuf-es,
 * C++, Java) stop at 100 nested messages, two per JSON level plus four for the row and up to twelve
 * for a six-dimensional array of json, which 32 levels stay under.
 */
export const maxJsonDepth = 32;

/** The nesting depth of `value` (0 for a scalar), counted without recursion, stopping past `limit`. */
function depthOf(value: JsonValue, limit: number): number {
  let deepest = 0;
  const stack: Array<{ value: JsonValue; depth: number }> = [{ value, depth: 0 }];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    if (item.value === null || typeof item.value !== "object") continue;
    const depth = item.depth + 1;
    if (depth > deepest) deepest = depth;
    if (deepest > limit) return deepest;
    for (const child of Array.isArray(item.value) ? item.value : Object.values(item.value)) stack.push({ value: child, depth });
  }
  return deepest;
}

/** json/jsonb; JSON.parse itself does not recurse, the depth cap protects what follows it. */
const json: Decoder = (value) => {
  const parsed = JSON.parse(value) as JsonValue;
  if (depthOf(parsed, maxJsonDepth) > maxJsonDepth) {
    throw apiError("result_too_large", `A JSON value in the result nests deeper than ${maxJsonDepth} levels`);
  }
  return parsed;
};

/** bytea in hex output (`\x…`) → base64. */
const bytea: Decoder = (value) => (value.startsWith("\\x") ? Buffer.from(value.slice(2), "hex").toString("base64") : value);

const datePrefix = /^\d{4,}-\d\d-\d\d \d\d:\d\d:\d\d/;

/** Offsets print as +HH, +HH:MM or +HH:MM:SS; ISO 8601 wants ±HH:MM or Z. */
function isoOffset(value: string): string {
  const withMinutes = value.replace(/([+-]\d\d)$/, "$1:00");
  return withMinutes.endsWith("+00:00") ? `${withMinutes.slice(0, -6)}Z` : withMinutes;
}

/**
 * timestamp/timestamptz printed with DateStyle ISO (set per transaction) → ISO 8601, keeping the
 * microseconds. `infinity` and BC dates are returned as PostgreSQL prints them.
 */
const timestamp: Decoder = (value) => {
  if (!datePrefix.test(value) || value.endsWith(" BC")) return value;
  return isoOffset(value.replace(" ", "T"));
};

const timetz: Decoder = (value) => isoOffset(value);

/** Decoders of the scalar types that need more than the text as is. */
export const decoders = { text, bool, integer, int8, float, numeric, json, bytea, timestamp, timetz } as const;

/**
 * Parses a PostgreSQL array literal (`{1,NULL,"a \"b\""}`, nested, with optional `[l:u]=` bounds)
 * into nested JSON arrays, decoding each element with `element`.
 */
export function parseArrayLiteral(literal: string, element: Decoder, delimiter = ","): JsonValue {
  let i = 0;
  if (literal.startsWith("[")) i = literal.indexOf("=") + 1;
  const fail = (): never => {
    throw new SyntaxError("malformed array literal");
  };
  const parseLevel = (): JsonValue[] => {
    if (literal[i] !== "{") fail();
    i++;
    const out: JsonValue[] = [];
    if (literal[i] === "}") {
      i++;
      return out;
    }
    for (;;) {
      const c = literal[i];
      if (c === undefined) fail();
      if (c === "{") {
        out.push(parseLevel());
      } else if (c === '"') {
        i++;
        let value = "";
        let start = i;
        for (;;) {
          const q = literal[i];
          if (q === undefined) fail();
          if (q === '"') break;
          if (q === "\\") {
            value += literal.slice(start, i);
            i++;
            start = i;
          }
          i++;
        }
        value += literal.slice(start, i);
        i++;
        out.push(element(value));
      } else {
        const start = i;
        while (i < literal.length && literal[i] !== delimiter && literal[i] !== "}") i++;
        const raw = literal.slice(start, i);
        out.push(raw.toUpperCase() === "NULL" ? null : element(raw));
      }
      if (literal[i] === delimiter) {
        i++;
        continue;
      }
      if (literal[i] === "}") {
        i++;
        return out;
      }
      fail();
    }
  };
  return parseLevel();
}

/** A decoder for arrays whose elements `element` decodes. */
export function arrayDecoder(element: Decoder, delimiter = ","): Decoder {
  return (value) => parseArrayLiteral(value, element, delimiter);
}

/**
 * Decodes raw text rows into JSON rows: arrays in array mode, else objects keyed by column name.
 * Objects inherit nothing ({@link bareObject}), so a column named `__proto__` is just a key.
 */
export function decodeRows(
  raw: readonly (readonly (string | null)[])[],
  columns: readonly QueryColumn[],
  columnDecoders: readonly Decoder[],
  arrayMode: boolean,
): JsonValue[][] | Record<string, JsonValue>[] {
  const decodeCell = (value: string | null, index: number): JsonValue =>
    value === null ? null : (columnDecoders[index] ?? text)(value);
  if (arrayMode) return raw.map((row) => row.map(decodeCell));
  return raw.map((row) => {
    const object = bareObject<JsonValue>();
    row.forEach((value, index) => {
      object[columns[index]?.name ?? String(index)] = decodeCell(value, index);
    });
    return object;
  });
}

/** Splits a command tag ("INSERT 0 5", "SELECT 3", "CREATE TABLE") into its command and count. */
export function parseCommandTag(tag: string): { command: string; count: number | undefined } {
  const words = tag.trim().split(/\s+/);
  let count: number | undefined;
  while (words.length > 1 && /^\d+$/.test(words[words.length - 1] ?? "")) {
    const last = Number(words.pop());
    count ??= last;
  }
  return { command: words.join(" "), count };
}
