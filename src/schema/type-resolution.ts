import { patternType, type StringPattern } from "./string-patterns.js";
import type { ValueKind, ValueProfile } from "./value-profile.js";

/** What {@link resolveType} needs of the inference options. */
export interface TypeOptions {
  preferNarrowTypes: boolean;
  maxVarcharLength: number;
}

/** The type chosen for a column, how sure it is, and why it widened. */
export interface ResolvedType {
  sqlType: string;
  alternatives: string[];
  pattern: StringPattern | "";
  /** Share of non-null values whose own narrowest type is `sqlType`, 0..1. */
  confidence: number;
  /** Why the type is wider than some values need ("widened integer → bigint: ..."). */
  widenings: string[];
}

type Family = "boolean" | "number" | "string" | "object" | "array";

const familyOf: Record<ValueKind, Family> = {
  boolean: "boolean",
  integer: "number",
  bigint: "number",
  numeric: "number",
  string: "string",
  object: "object",
  array: "array",
};

function families(profile: ValueProfile): Family[] {
  const found = new Set<Family>();
  for (const kind of profile.kinds.keys()) found.add(familyOf[kind]);
  return (["boolean", "number", "string", "object", "array"] as const).filter((family) => found.has(family));
}

const share = (part: number, whole: number) => (whole === 0 ? 0 : Math.round((part / whole) * 100) / 100);

function numberType(profile: ValueProfile, options: TypeOptions): ResolvedType {
  const ints = profile.count("integer");
  const bigs = profile.count("bigint");
  const decimals = profile.count("numeric");
  const total = profile.present;
  if (decimals > 0) {
    const widenings =
      ints + bigs > 0
        ? [`widened ${bigs > 0 || !options.preferNarrowTypes ? "bigint" : "integer"} → numeric: ${decimals} of ${total} values have fractions or exceed 2^53`]
        : [];
    return { sqlType: "numeric", alternatives: ["double precision"], pattern: "", confidence: share(decimals, total), widenings };
  }
  if (bigs > 0 || !options.preferNarrowTypes) {
    const widenings = options.preferNarrowTypes && ints > 0 ? [`widened integer → bigint: ${bigs} of ${total} values exceed the integer range`] : [];
    const exact = options.preferNarrowTypes ? bigs : total;
    return { sqlType: "bigint", alternatives: ["numeric"], pattern: "", confidence: share(exact, total), widenings };
  }
  return { sqlType: "integer", alternatives: ["bigint", "numeric"], pattern: "", confidence: 1, widenings: [] };
}

function textType(profile: ValueProfile, options: TypeOptions): { sqlType: string; alternatives: string[] } {
  const longest = profile.maxLength ?? 0;
  const varchar = `varchar(${Math.max(1, Math.min(longest * 2, options.maxVarcharLength))})`;
  if (options.preferNarrowTypes && longest <= options.maxVarcharLength) return { sqlType: varchar, alternatives: ["text"] };
  return { sqlType: "text", alternatives: longest <= options.maxVarcharLength ? [varchar] : [] };
}

function stringType(profile: ValueProfile, options: TypeOptions): ResolvedType {
  const total = profile.present;
  const patterns = [...profile.patterns.entries()];
  const only = patterns.length === 1 ? patterns[0]?.[0] : undefined;
  if (only) {
    const typed = patternType(only, profile.zonedTimestamps > 0);
    if (typed) return { ...typed, pattern: only, confidence: 1, widenings: [] };
    return { ...textType(profile, options), pattern: only, confidence: 1, widenings: [] };
  }
  const temporal = patterns.every(([pattern]) => pattern === "date" || pattern === "timestamp");
  if (temporal && patterns.length === 2) {
    const dates = profile.patterns.get("date") ?? 0;
    const sqlType = profile.zonedTimestamps > 0 ? "timestamptz" : "timestamp";
    return {
      sqlType,
      alternatives: ["text"],
      pattern: "timestamp",
      confidence: share(total - dates, total),
      widenings: [`widened date → ${sqlType}: ${dates} of ${total} values are dates without a time`],
    };
  }
  return { ...textType(profile, options), pattern: "", confidence: 1, widenings: [] };
}

function arrayType(profile: ValueProfile, options: TypeOptions): ResolvedType {
  const elements = profile.elements;
  const elementFamilies = elements ? families(elements) : [];
  if (!elements || elements.present === 0) {
    return { sqlType: "jsonb", alternatives: ["text[]"], pattern: "", confidence: 0, widenings: ["only empty arrays: typed jsonb"] };
  }
  const [family] = elementFamilies;
  if (elementFamilies.length === 1 && family !== "object" && family !== "array") {
    const element = resolveScalar(elements, family as Exclude<Family, "object" | "array">, options);
    if (element.sqlType !== "jsonb") {
      return {
        sqlType: `${element.sqlType}[]`,
        alternatives: ["jsonb"],
        pattern: element.pattern,
        confidence: element.confidence,
        widenings: element.widenings.map((reason) => `array elements ${reason}`),
      };
    }
  }
  const what = elementFamilies.length === 1 ? `${family ?? "nested"} elements` : `mixed elements (${elementFamilies.join(", ")})`;
  return { sqlType: "jsonb", alternatives: ["json"], pattern: "", confidence: 1, widenings: [`arrays of ${what}: typed jsonb`] };
}

function resolveScalar(profile: ValueProfile, family: "boolean" | "number" | "string", options: TypeOptions): ResolvedType {
  if (family === "boolean") return { sqlType: "boolean", alternatives: [], pattern: "", confidence: 1, widenings: [] };
  return family === "number" ? numberType(profile, options) : stringType(profile, options);
}

/**
 * The SQL type of a column from its {@link ValueProfile}, widening as little as the values allow:
 * integer → bigint → numeric → text; objects are jsonb; arrays of one scalar type are arrays of
 * it, other arrays jsonb; objects or arrays mixed with anything else are jsonb; scalars of
 * different kinds are text. Undefined when the column held only nulls.
 */
export function resolveType(profile: ValueProfile, options: TypeOptions): ResolvedType | undefined {
  const found = families(profile);
  if (found.length === 0) return undefined;
  const [family] = found;
  if (found.length === 1 && family) {
    if (family === "object") return { sqlType: "jsonb", alternatives: ["json"], pattern: "", confidence: 1, widenings: [] };
    if (family === "array") return arrayType(profile, options);
    return resolveScalar(profile, family, options);
  }
  const counts = found.map((f) => `${f}s`).join(" and ");
  if (found.includes("object") || found.includes("array")) {
    return { sqlType: "jsonb", alternatives: ["json"], pattern: "", confidence: 1, widenings: [`widened to jsonb: values are ${counts}`] };
  }
  const strings = profile.count("string");
  return {
    sqlType: "text",
    alternatives: [],
    pattern: "",
    confidence: share(strings, profile.present),
    widenings: [`widened to text: values are ${counts}`],
  };
}
