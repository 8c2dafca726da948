import { CsvError, parse, type CastingContext } from "csv-parse/sync";
import { apiError } from "../errors/catalogue.js";
import type { JsonValue } from "./value-profile.js";

/** How a CSV document is written. */
export interface CsvFormat {
  /** The first row names the columns (default true); otherwise `column_1`, `column_2`, … */
  header?: boolean;
  /** One character (default `,`). */
  delimiter?: string;
  /** One character (default `"`). */
  quote?: string;
}

const integer = /^-?(0|[1-9]\d*)$/;
const decimal = /^-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?$/;

/**
 * The JSON value of one CSV field: an unquoted empty field is null; unquoted `true`/`false` are
 * booleans; unquoted numbers without leading zeros are numbers (`007` and ZIP codes stay
 * strings); everything else, and every quoted field, is a string.
 */
function fieldValue(value: string, context: CastingContext): JsonValue {
  if (context.quoting) return value;
  if (value === "") return null;
  if (value === "true" || value === "false") return value === "true";
  if (integer.test(value) || decimal.test(value)) return Number(value);
  return value;
}

function oneCharacter(name: string, value: string | undefined, fallback: string): string {
  if (value === undefined || value === "") return fallback;
  if ([...value].length !== 1 || value === "\n" || value === "\r") {
    throw apiError("validation_failed", `csv.${name} must be one character other than a line break, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * Reads a CSV document into sample objects with csv-parse: quoted fields may hold delimiters,
 * quotes (doubled) and line breaks; blank lines are skipped; a row whose field count differs
 * from the first row's is refused (`schema_invalid_file`, naming the line), as are bad quoting
 * and duplicate header names.
 */
export function samplesFromCsv(content: string, format: CsvFormat = {}): JsonValue[] {
  const delimiter = oneCharacter("delimiter", format.delimiter, ",");
  const quote = oneCharacter("quote", format.quote, '"');
  if (delimiter === quote) throw apiError("validation_failed", "csv.delimiter and csv.quote must differ");
  let rows: JsonValue[][];
  try {
    rows = parse(content, { delimiter, quote, escape: quote, skip_empty_lines: true, bom: true, cast: fieldValue }) as unknown as JsonValue[][];
  } catch (error) {
    if (error instanceof CsvError) throw apiError("schema_invalid_file", `CSV: ${error.message}`, { metadata: { csv_error: error.code } });
    throw error;
  }
  const [first, ...rest] = rows;
  if (!first) throw apiError("schema_invalid_file", "CSV: the document holds no rows");
  const header = format.header ?? true;
  const names = header ? first.map((name) => (name === null ? "" : String(name))) : first.map((_value, index) => `column_${index + 1}`);
  const seen = new Set<string>();
  names.forEach((name, index) => {
    if (name.trim() === "") throw apiError("schema_invalid_file", `CSV: header field ${index + 1} is empty`);
    if (seen.has(name)) throw apiError("schema_invalid_file", `CSV: header names ${JSON.stringify(name)} twice`);
    seen.add(name);
  });
  const records = header ? rest : rows;
  if (records.length === 0) throw apiError("schema_invalid_file", "CSV: the document holds a header but no data rows");
  return records.map((row) => Object.fromEntries(names.map((name, index) => [name, row[index] ?? null])));
}

/**
 * Reads NDJSON (one JSON value per line; blank lines skipped) into samples; a line that is not
 * JSON is refused with `schema_invalid_file` naming it. Whether each value is an object is
 * checked by inference, like any sample.
 */
export function samplesFromNdjson(content: string): JsonValue[] {
  const samples: JsonValue[] = [];
  content.split(/\r?\n/).forEach((line, index) => {
    if (line.trim() === "") return;
    try {
      samples.push(JSON.parse(line) as JsonValue);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw apiError("schema_invalid_file", `NDJSON: line ${index + 1} is not JSON (${reason})`, { metadata: { line: String(index + 1) } });
    }
  });
  if (samples.length === 0) throw apiError("schema_invalid_file", "NDJSON: the document holds no records");
  return samples;
}
