import { isIP } from "node:net";

/** A pattern recognised in string sample values. */
export type StringPattern = "uuid" | "timestamp" | "date" | "time" | "email" | "url" | "ip" | "money" | "json";

/** How a column whose every string value matches a pattern is typed, and what else would hold it. */
export interface PatternType {
  sqlType: string;
  alternatives: string[];
}

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const date = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;
const timestamp = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,9})?)?(Z|[+-]([01]\d|2[0-3])(:?[0-5]\d)?)?$/i;
const zoned = /(Z|[+-]\d{2}(:?\d{2})?)$/i;
const time = /^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,9})?)?$/;
const email = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const url = /^https?:\/\/[^\s/$.?#][^\s]*$/i;
const money = /^[-+]?[$€£¥]\s?\d{1,3}(,?\d{3})*(\.\d{1,4})?$|^[-+]?\d+(\.\d{1,4})?\s?(USD|EUR|GBP|JPY|CHF)$/i;

/** Whether `text` is a date PostgreSQL accepts (the regular expressions let 2023-02-31 through). */
function realDate(text: string): boolean {
  const [y, m, d] = text.slice(0, 10).split("-").map(Number) as [number, number, number];
  const probe = new Date(Date.UTC(y, m - 1, d));
  return probe.getUTCFullYear() === y && probe.getUTCMonth() === m - 1 && probe.getUTCDate() === d;
}

function jsonContainer(text: string): boolean {
  const first = text.trimStart()[0];
  if (first !== "{" && first !== "[") return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * The pattern of one string value, the most specific first (uuid, timestamp, date, time, email,
 * url, ip, money, then JSON text when `detectJson`), or undefined.
 */
export function detectPattern(text: string, detectJson: boolean): StringPattern | undefined {
  if (uuid.test(text)) return "uuid";
  if (timestamp.test(text) && realDate(text)) return "timestamp";
  if (date.test(text) && realDate(text)) return "date";
  if (time.test(text)) return "time";
  if (email.test(text)) return "email";
  if (url.test(text)) return "url";
  if (isIP(text) !== 0) return "ip";
  if (money.test(text)) return "money";
  if (detectJson && jsonContainer(text)) return "json";
  return undefined;
}

/** Whether a timestamp value carries its zone (Z or an offset). */
export function hasZone(text: string): boolean {
  return zoned.test(text.slice(10));
}

/**
 * The column type for strings that all match `pattern`; `zoned` tells timestamptz from timestamp.
 * Patterns without a better type (email, url, money) stay text and say so in `alternatives`.
 */
export function patternType(pattern: StringPattern, zonedTimestamps: boolean): PatternType | undefined {
  switch (pattern) {
    case "uuid":
      return { sqlType: "uuid", alternatives: ["text"] };
    case "timestamp":
      return zonedTimestamps
        ? { sqlType: "timestamptz", alternatives: ["timestamp", "text"] }
        : { sqlType: "timestamp", alternatives: ["timestamptz", "text"] };
    case "date":
      return { sqlType: "date", alternatives: ["timestamptz", "text"] };
    case "time":
      return { sqlType: "time", alternatives: ["text"] };
    case "ip":
      return { sqlType: "inet", alternatives: ["text"] };
    case "json":
      return { sqlType: "jsonb", alternatives: ["json", "text"] };
    case "money":
      return undefined;
    default:
      return undefined;
  }
}
