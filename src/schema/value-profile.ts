import { detectPattern, hasZone, type StringPattern } from "./string-patterns.js";

/** A JSON value as samples hold it. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** The narrowest kind of one JSON value. */
export type ValueKind = "boolean" | "integer" | "bigint" | "numeric" | "string" | "object" | "array";

const int32 = 2 ** 31;

/** The narrowest kind of a non-null value (integers beyond 2^53 are no longer exact: numeric). */
export function kindOf(value: Exclude<JsonValue, null>): ValueKind {
  if (typeof value === "boolean") return "boolean";
  if (typeof value === "string") return "string";
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) return "numeric";
    return value >= -int32 && value < int32 ? "integer" : "bigint";
  }
  return Array.isArray(value) ? "array" : "object";
}

/** Counts of what one column (or the elements of its arrays) held, in one pass over the samples. */
export class ValueProfile {
  /** Non-null values seen. */
  present = 0;
  readonly kinds = new Map<ValueKind, number>();
  /** String values per detected pattern ("" for none). */
  readonly patterns = new Map<StringPattern | "", number>();
  /** Timestamp strings carrying a zone, and without. */
  zonedTimestamps = 0;
  plainTimestamps = 0;
  minLength: number | undefined;
  maxLength: number | undefined;
  min: number | undefined;
  max: number | undefined;
  /** Arrays with no element. */
  emptyArrays = 0;
  private elementProfile: ValueProfile | undefined;

  constructor(private readonly detectJson: boolean) {}

  /** The profile of the elements of array values (created on the first array). */
  get elements(): ValueProfile | undefined {
    return this.elementProfile;
  }

  /** Adds one non-null value; array elements go to {@link elements} (one level deep). */
  add(value: Exclude<JsonValue, null>, nested = false): void {
    this.present++;
    const kind = kindOf(value);
    this.kinds.set(kind, (this.kinds.get(kind) ?? 0) + 1);
    if (typeof value === "string") {
      const length = [...value].length;
      this.minLength = Math.min(this.minLength ?? length, length);
      this.maxLength = Math.max(this.maxLength ?? length, length);
      const pattern = detectPattern(value, this.detectJson) ?? "";
      this.patterns.set(pattern, (this.patterns.get(pattern) ?? 0) + 1);
      if (pattern === "timestamp") {
        if (hasZone(value)) this.zonedTimestamps++;
        else this.plainTimestamps++;
      }
    } else if (typeof value === "number") {
      this.min = Math.min(this.min ?? value, value);
      this.max = Math.max(this.max ?? value, value);
    } else if (Array.isArray(value) && !nested) {
      if (value.length === 0) this.emptyArrays++;
      this.elementProfile ??= new ValueProfile(this.detectJson);
      for (const element of value) if (element !== null) this.elementProfile.add(element, true);
    }
  }

  /** How many values had `kind`. */
  count(kind: ValueKind): number {
    return this.kinds.get(kind) ?? 0;
  }
}
