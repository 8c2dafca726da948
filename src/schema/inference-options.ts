import { apiError } from "../errors/catalogue.js";
import type { IdentifierMode } from "./identifiers.js";

/** Inference options as a request gives them: every field optional (HeliosDB Nano's names). */
export interface InferOptionsInput {
  detectNullable?: boolean;
  detectUnique?: boolean;
  detectPrimaryKey?: boolean;
  detectForeignKeys?: boolean;
  suggestIndexes?: boolean;
  preferNarrowTypes?: boolean;
  maxVarcharLength?: number;
  detectJson?: boolean;
  /** "normalize" (default) or "strict"; "" means the default. */
  identifiers?: string;
}

/** Inference options with every default filled in. */
export type InferOptions = Required<Omit<InferOptionsInput, "identifiers">> & { identifiers: IdentifierMode };

/** The largest `max_varchar_length` PostgreSQL accepts for varchar(n). */
const varcharLimit = 10_485_760;

/**
 * Fills in the defaults: every `detect_*`, `suggest_indexes` and `detect_json` on, narrow types
 * off, `max_varchar_length` 255, identifiers normalised. Throws `validation_failed` naming a bad
 * value.
 */
export function resolveOptions(input: InferOptionsInput = {}): InferOptions {
  const maxVarcharLength = input.maxVarcharLength ?? 255;
  if (!Number.isInteger(maxVarcharLength) || maxVarcharLength < 1 || maxVarcharLength > varcharLimit) {
    throw apiError("validation_failed", `options.max_varchar_length must be between 1 and ${varcharLimit}, got ${maxVarcharLength}`);
  }
  const identifiers = input.identifiers === undefined || input.identifiers === "" ? "normalize" : input.identifiers;
  if (identifiers !== "normalize" && identifiers !== "strict") {
    throw apiError("validation_failed", `options.identifiers must be "normalize" or "strict", got ${JSON.stringify(identifiers)}`);
  }
  return {
    detectNullable: input.detectNullable ?? true,
    detectUnique: input.detectUnique ?? true,
    detectPrimaryKey: input.detectPrimaryKey ?? true,
    detectForeignKeys: input.detectForeignKeys ?? true,
    suggestIndexes: input.suggestIndexes ?? true,
    preferNarrowTypes: input.preferNarrowTypes ?? false,
    maxVarcharLength,
    detectJson: input.detectJson ?? true,
    identifiers,
  };
}
