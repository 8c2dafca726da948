/** What a `Prefer` header asked for that `/rest` honours. */
export interface Preferences {
  return?: "minimal" | "headers-only" | "representation";
  count?: "exact" | "planned" | "estimated";
  resolution?: "merge-duplicates" | "ignore-duplicates";
  missing?: "default" | "null";
  /** The preferences honoured, for `Preference-Applied` (in the order given). */
  applied: string[];
}

const accepted: Record<string, ReadonlySet<string>> = {
  return: new Set(["minimal", "headers-only", "representation"]),
  count: new Set(["exact", "planned", "estimated"]),
  resolution: new Set(["merge-duplicates", "ignore-duplicates"]),
  missing: new Set(["default", "null"]),
};

/**
 * Parses `Prefer` headers (RFC 7240: comma-separated `name=value` tokens, several headers allowed).
 * Unknown or malformed preferences are ignored, as the RFC asks (PostgREST's lenient handling).
 */
export function parsePreferences(header: string | string[] | undefined): Preferences {
  const prefs: Preferences = { applied: [] };
  const values = header === undefined ? [] : Array.isArray(header) ? header : [header];
  for (const token of values.flatMap((value) => value.split(","))) {
    const [rawName, rawValue] = token.split("=", 2);
    const name = rawName?.trim().toLowerCase() ?? "";
    const value = rawValue?.trim().toLowerCase() ?? "";
    const allowed = accepted[name];
    if (!allowed?.has(value) || Object.hasOwn(prefs, name)) continue;
    Object.assign(prefs, { [name]: value });
  }
  return prefs;
}
