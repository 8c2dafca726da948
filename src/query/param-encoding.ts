import { apiError } from "../errors/catalogue.js";
import type { JsonValue } from "./result-encoding.js";

/** The protocol's limit on bind parameters. */
export const maxParams = 65_535;

function encodeParam(value: JsonValue, index: number): string | null {
  if (value === null) return null;
  switch (typeof value) {
    case "string":
      return value;
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (!Number.isFinite(value)) throw apiError("validation_failed", `params[${index}] is not a finite number`);
      return String(value);
    case "object":
      // Arrays and objects travel as JSON text: they suit json/jsonb parameters. For a PostgreSQL
      // array parameter, pass its literal as a string ("{1,2}") or cast: ($1::jsonb).
      return JSON.stringify(value);
    default:
      throw apiError("validation_failed", `params[${index}] is not a JSON value`);
  }
}

/**
 * Turns JSON parameter values into text-format bind values for `$1…$n`: null → NULL, strings as
 * they are, numbers and booleans as their literals (PostgreSQL infers the parameter's type from the
 * statement and parses the text), arrays and objects as JSON text.
 */
export function encodeParams(params: readonly JsonValue[]): (string | null)[] {
  if (params.length > maxParams) throw apiError("validation_failed", `At most ${maxParams} params are allowed`);
  return params.map(encodeParam);
}
