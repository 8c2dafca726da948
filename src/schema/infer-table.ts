import { apiError } from "../errors/catalogue.js";
import { finishTable, tenantColumn, tenantDefault, type FinishedTable } from "./ddl.js";
import { normalizeIdentifier, type Rename } from "./identifiers.js";
import type { InferOptions } from "./inference-options.js";
import type { ProposedColumn, ProposedForeignKey } from "./proposal.js";
import { resolveType } from "./type-resolution.js";
import { ValueProfile, type JsonValue } from "./value-profile.js";

/** A table after the pass over its samples, before indexes, constraints and DDL. */
export interface TableDraft {
  name: string;
  columns: ProposedColumn[];
  primaryKey: string[];
  foreignKeys: ProposedForeignKey[];
  renamed: Rename[];
  warnings: string[];
  sampleCount: number;
  /** Distinct non-null values (JSON text) per column name, for relationship detection. */
  values: ReadonlyMap<string, ReadonlySet<string>>;
}

interface ColumnAccumulator {
  name: string;
  key: string;
  profile: ValueProfile;
  nulls: number;
  distinct: Set<string>;
  examples: string[];
}

/** Names a column conventionally holding one distinct value per row. */
const keyLikeNames = /^(id|uuid|email|username|user_name|slug|code|sku|handle)$/;
const keyLikePatterns = new Set(["uuid", "email"]);
const uniqueTypes = /^(integer|bigint|numeric|text|varchar\(\d+\)|uuid|inet)$/;
const primaryKeyTypes = /^(integer|bigint|text|varchar\(\d+\)|uuid)$/;
const integerTypes = new Set(["integer", "bigint"]);
const timestampDefaults = new Set(["created_at", "updated_at", "inserted_at"]);

/** `customers` → `customer`, `categories` → `category`, `boxes` → `box` (English, good enough for names). */
export function singular(name: string): string {
  if (/ies$/.test(name)) return `${name.slice(0, -3)}y`;
  if (/(s|x|z|ch|sh)es$/.test(name)) return name.slice(0, -2);
  if (/[^s]s$/.test(name)) return name.slice(0, -1);
  return name;
}

function sampleObject(sample: JsonValue, index: number): Record<string, JsonValue> {
  if (sample === null || typeof sample !== "object" || Array.isArray(sample)) {
    const kind = sample === null ? "null" : Array.isArray(sample) ? "an array" : `a ${typeof sample}`;
    throw apiError("schema_invalid_samples", `samples[${index}] must be a JSON object, got ${kind}`, { metadata: { index: String(index) } });
  }
  return sample;
}

function statistics(column: ColumnAccumulator, sampleCount: number) {
  const { profile } = column;
  return {
    present: profile.present,
    nulls: column.nulls,
    missing: sampleCount - profile.present - column.nulls,
    distinct: column.distinct.size,
    ...(profile.minLength === undefined ? {} : { minLength: profile.minLength, maxLength: profile.maxLength }),
    ...(profile.min === undefined ? {} : { min: profile.min, max: profile.max }),
    examples: column.examples,
  };
}

function choosePrimaryKey(table: string, columns: ProposedColumn[], sampleCount: number): ProposedColumn | undefined {
  const candidates = ["id", `${table}_id`, `${singular(table)}_id`, "uuid"];
  for (const candidate of candidates) {
    const column = columns.find((c) => c.name === candidate);
    if (!column || !primaryKeyTypes.test(column.sqlType)) continue;
    const { present, distinct } = column.statistics;
    if (present === sampleCount && distinct === present) return column;
  }
  return undefined;
}

/**
 * One pass over `samples` (JSON objects): the columns in order of first appearance, named by
 * {@link normalizeIdentifier}, typed by {@link resolveType}, nullable when missing or null in any
 * sample, unique when every value differs and the column looks like a key; the primary key among
 * `id`, `<table>_id` and `uuid`; and always a `tenant_id` column (last unless a sample has it)
 * that the service fills from the caller's tenant. Linear in the size of the samples; the same
 * samples always give the same draft.
 */
export function analyseSamples(tableName: string, samples: readonly JsonValue[], options: InferOptions): TableDraft {
  if (samples.length === 0) throw apiError("schema_invalid_samples", "samples must hold at least one JSON object");
  const renamed: Rename[] = [];
  const table = normalizeIdentifier(tableName, options.identifiers, "table name");
  if (table.rename) renamed.push(table.rename);
  const byKey = new Map<string, ColumnAccumulator>();
  const byName = new Map<string, ColumnAccumulator>();

  samples.forEach((sample, index) => {
    const record = sampleObject(sample, index);
    for (const [key, value] of Object.entries(record)) {
      let column = byKey.get(key);
      if (!column) {
        const normalized = normalizeIdentifier(key, options.identifiers, "key");
        const clash = byName.get(normalized.name);
        if (clash) {
          throw apiError(
            "schema_duplicate_identifier",
            `keys ${JSON.stringify(clash.key)} and ${JSON.stringify(key)} both become column "${normalized.name}"`,
            { metadata: { column: normalized.name } },
          );
        }
        if (normalized.rename) renamed.push(normalized.rename);
        column = { name: normalized.name, key, profile: new ValueProfile(options.detectJson), nulls: 0, distinct: new Set(), examples: [] };
        byKey.set(key, column);
        byName.set(normalized.name, column);
      }
      if (value === null) {
        column.nulls++;
        continue;
      }
      column.profile.add(value);
      const text = JSON.stringify(value);
      if (!column.distinct.has(text)) {
        column.distinct.add(text);
        if (column.examples.length < 3) column.examples.push(text);
      }
    }
  });

  const warnings: string[] = [];
  const columns: ProposedColumn[] = [];
  for (const column of byName.values()) {
    const stats = statistics(column, samples.length);
    if (column.name === tenantColumn) {
      if (stats.present > 0) warnings.push(`column "${tenantColumn}" is set by the service from the caller's tenant; its sample values are not used`);
      continue;
    }
    const resolved = resolveType(column.profile, options);
    if (!resolved) warnings.push(`column "${column.name}" held only nulls: typed text`);
    for (const widening of resolved?.widenings ?? []) warnings.push(`column "${column.name}": ${widening}`);
    const looksLikeKey = keyLikeNames.test(column.name) || keyLikePatterns.has(resolved?.pattern ?? "");
    columns.push({
      name: column.name,
      sourceKey: column.key,
      sqlType: resolved?.sqlType ?? "text",
      nullable: options.detectNullable ? stats.present < samples.length : true,
      unique:
        options.detectUnique &&
        looksLikeKey &&
        stats.present >= 2 &&
        stats.distinct === stats.present &&
        uniqueTypes.test(resolved?.sqlType ?? ""),
      default: "",
      identity: false,
      confidence: resolved?.confidence ?? 0,
      alternatives: resolved?.alternatives ?? [],
      detectedPattern: resolved?.pattern ?? "",
      statistics: stats,
    });
  }

  const primaryKey: string[] = [];
  if (options.detectPrimaryKey) {
    const key = choosePrimaryKey(table.name, columns, samples.length);
    if (key) {
      key.nullable = false;
      key.unique = false; // the primary key says it
      if (integerTypes.has(key.sqlType)) key.identity = true;
      else if (key.sqlType === "uuid") key.default = "gen_random_uuid()";
      if (key.identity || key.default !== "") {
        primaryKey.push(key.name);
      } else {
        // Values chosen by clients: a duplicate across tenants would tell one tenant about another.
        primaryKey.push(tenantColumn, key.name);
        warnings.push(`primary key ("${tenantColumn}", "${key.name}"): ${key.sqlType} keys come from the writers, so they are unique per tenant`);
      }
    } else {
      warnings.push(`no primary key: no id, ${table.name}_id or uuid column has a distinct value in every sample`);
    }
  }
  for (const column of columns) {
    if (timestampDefaults.has(column.name) && column.sqlType.startsWith("timestamp")) column.default = "now()";
  }

  const tenantAt = [...byName.keys()].indexOf(tenantColumn);
  const tenant: ProposedColumn = {
    name: tenantColumn,
    sourceKey: tenantAt >= 0 ? (byName.get(tenantColumn)?.key ?? "") : "",
    sqlType: "text",
    nullable: false,
    unique: false,
    default: tenantDefault,
    identity: false,
    confidence: 1,
    alternatives: [],
    detectedPattern: "",
    statistics: tenantAt >= 0 ? statistics(byName.get(tenantColumn) as ColumnAccumulator, samples.length) : { present: 0, nulls: 0, missing: samples.length, distinct: 0, examples: [] },
  };
  if (tenantAt >= 0) columns.splice(tenantAt, 0, tenant);
  else columns.push(tenant);

  const values = new Map<string, ReadonlySet<string>>();
  for (const column of byName.values()) values.set(column.name, column.distinct);
  return { name: table.name, columns, primaryKey, foreignKeys: [], renamed, warnings, sampleCount: samples.length, values };
}

/** Proposes one table from `samples`: {@link analyseSamples}, then constraints, indexes and DDL. */
export function inferTable(tableName: string, samples: readonly JsonValue[], options: InferOptions): FinishedTable {
  return finishTable(analyseSamples(tableName, samples, options), options, { referenced: false, deferred: new Set() });
}
