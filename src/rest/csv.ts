import type { JsonValue } from "../query/result-encoding.js";

function cell(value: JsonValue | undefined): string {
  if (value === null || value === undefined) return "";
  const text = typeof value === "object" ? JSON.stringify(value) : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * Writes rows as CSV (RFC 4180): a header of `columns`, one line per row, fields quoted when they
 * hold a comma, quote or line break; NULL is an empty field, JSON values their JSON text.
 */
export function toCsv(columns: readonly string[], rows: readonly Record<string, JsonValue>[]): string {
  const lines = [columns.map(cell).join(",")];
  for (const row of rows) lines.push(columns.map((name) => cell(row[name])).join(","));
  return lines.join("\n");
}
