import { ConnectError } from "@connectrpc/connect";
import { apiError, reasonOf } from "../errors/catalogue.js";
import { finishTable, script, tenantColumn, type FinishedTable } from "./ddl.js";
import { derivedName } from "./identifiers.js";
import { analyseSamples, singular, type TableDraft } from "./infer-table.js";
import type { InferOptions } from "./inference-options.js";
import type { ProposedTable, Relationship } from "./proposal.js";
import type { JsonValue } from "./value-profile.js";

/** The samples of one table of a batch. */
export interface BatchInput {
  name: string;
  samples: readonly JsonValue[];
}

/** A batch proposal: tables in dependency order, their relationships, and the combined DDL. */
export interface BatchProposal {
  schemas: ProposedTable[];
  relationships: Relationship[];
  combinedDdl: string;
  /** The statements of `combinedDdl`, in order. */
  statements: string[];
}

/** Which table a `<name>_id` column names: `customer_id` → `customers` or `customer`. */
function targetOf(column: string, drafts: readonly TableDraft[]): TableDraft | undefined {
  if (!column.endsWith("_id") || column.length <= 3) return undefined;
  const stem = column.slice(0, -3);
  return drafts.find((draft) => draft.name === stem || singular(draft.name) === singular(stem));
}

function isSubset(values: ReadonlySet<string>, of: ReadonlySet<string>): boolean {
  for (const value of values) if (!of.has(value)) return false;
  return true;
}

/**
 * Foreign keys between drafts: a column `<t>_id` of one table whose every non-null sample value is
 * among the primary key values of table `<t>` (or its plural). The column takes the key's type.
 */
function detectRelationships(drafts: readonly TableDraft[]): Relationship[] {
  const relationships: Relationship[] = [];
  for (const draft of drafts) {
    for (const column of draft.columns) {
      if (column.name === tenantColumn || draft.primaryKey.includes(column.name)) continue;
      const target = targetOf(column.name, drafts);
      const own = target?.primaryKey.filter((name) => name !== tenantColumn) ?? [];
      const key = own.length === 1 ? own[0] : undefined;
      if (!target || key === undefined) continue;
      const values = draft.values.get(column.name);
      const keys = target.values.get(key);
      if (!values || values.size === 0 || !keys || !isSubset(values, keys)) continue;
      const keyColumn = target.columns.find((c) => c.name === key);
      if (keyColumn && keyColumn.sqlType !== column.sqlType) {
        draft.warnings.push(`column "${column.name}": typed ${keyColumn.sqlType} like ${target.name}.${key}, which it references`);
        column.sqlType = keyColumn.sqlType;
        column.alternatives = [];
      }
      const name = derivedName([draft.name, column.name], "fkey");
      draft.foreignKeys.push({ name, column: column.name, referencedTable: target.name, referencedColumn: key });
      relationships.push({ name, table: draft.name, column: column.name, referencedTable: target.name, referencedColumn: key, confidence: 1 });
    }
  }
  return relationships;
}

/**
 * Orders drafts so that referenced tables come first (input order among equals); in a cycle the
 * first remaining table goes next, and the foreign keys pointing forward are deferred.
 */
function dependencyOrder(drafts: readonly TableDraft[]): { ordered: TableDraft[]; deferred: Set<string> } {
  const remaining = [...drafts];
  const placed = new Set<string>();
  const ordered: TableDraft[] = [];
  while (remaining.length > 0) {
    const ready = remaining.findIndex((draft) =>
      draft.foreignKeys.every((fk) => fk.referencedTable === draft.name || placed.has(fk.referencedTable)),
    );
    const [next] = remaining.splice(ready >= 0 ? ready : 0, 1) as [TableDraft];
    placed.add(next.name);
    ordered.push(next);
  }
  const position = new Map(ordered.map((draft, index) => [draft.name, index]));
  const deferred = new Set<string>();
  for (const draft of ordered) {
    for (const fk of draft.foreignKeys) {
      if ((position.get(fk.referencedTable) ?? 0) > (position.get(draft.name) ?? 0)) deferred.add(fk.name);
    }
  }
  return { ordered, deferred };
}

/**
 * Proposes every table of a batch ({@link analyseSamples} each), detects the relationships
 * between them when `detectRelationships`, and writes one script: CREATE TABLEs in dependency
 * order, foreign keys of cycles as ALTER TABLE at the end. Table names must differ after
 * normalisation.
 */
export function inferBatch(inputs: readonly BatchInput[], options: InferOptions, detect: boolean): BatchProposal {
  if (inputs.length === 0) throw apiError("schema_invalid_samples", "tables must hold at least one table");
  const drafts: TableDraft[] = [];
  const sources = new Map<string, string>();
  for (const [index, input] of inputs.entries()) {
    let draft: TableDraft;
    try {
      draft = analyseSamples(input.name, input.samples, options);
    } catch (error) {
      if (!(error instanceof ConnectError)) throw error;
      throw apiError(reasonOf(error), `tables[${index}] (${JSON.stringify(input.name)}): ${error.rawMessage}`, { metadata: { table_index: String(index) } });
    }
    const clash = sources.get(draft.name);
    if (clash !== undefined) {
      throw apiError("schema_duplicate_identifier", `tables ${JSON.stringify(clash)} and ${JSON.stringify(input.name)} both become table "${draft.name}"`, {
        metadata: { table: draft.name },
      });
    }
    sources.set(draft.name, input.name);
    drafts.push(draft);
  }
  const relationships = detect ? detectRelationships(drafts) : [];
  const { ordered, deferred } = dependencyOrder(drafts);
  const referenced = new Set(relationships.map((relationship) => relationship.referencedTable));
  const finished: FinishedTable[] = ordered.map((draft) => finishTable(draft, options, { referenced: referenced.has(draft.name), deferred }));
  const statements = [...finished.flatMap((table) => table.statements), ...finished.flatMap((table) => table.deferredStatements)];
  return { schemas: finished.map((table) => table.table), relationships, combinedDdl: script(statements), statements };
}
