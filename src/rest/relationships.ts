import { restError } from "./rest-errors.js";
import type { Catalogue, CatalogueTable, ForeignKey } from "./schema-catalogue.js";

/** How an embedded resource joins its parent. */
export interface Relationship {
  /** The embedded table. */
  target: CatalogueTable;
  /** Pairs of (parent column, embedded column) that must be equal. */
  joins: Array<[string, string]>;
  /** To-one embeds are an object (or null), to-many an array. */
  toOne: boolean;
  /** The foreign key followed, for messages. */
  key: ForeignKey;
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((name) => b.includes(name));
}

function describe(relationship: Relationship, parent: string): string {
  const { key } = relationship;
  const cardinality = relationship.toOne ? (key.table === parent ? "many-to-one" : "one-to-one") : "one-to-many";
  return `${cardinality} via ${key.name} using ${key.table}(${key.columns.join(", ")}) and ${key.target}(${key.targetColumns.join(", ")})`;
}

/**
 * Finds the relationship that embedding `name` (a table, or a foreign-key column of the parent)
 * into `parent` follows, narrowed by `hint` (a foreign key's name, or one of its columns). No
 * match is PGRST200; several are PGRST201, listing them, as PostgREST does.
 */
export function resolveRelationship(catalogue: Catalogue, parent: CatalogueTable, name: string, hint: string | undefined): Relationship {
  const candidates: Relationship[] = [];
  for (const key of parent.foreignKeys) {
    const target = catalogue.tables.get(key.target);
    if (!target) continue;
    const byTable = key.target === name;
    const byColumn = key.columns.length === 1 && key.columns[0] === name;
    if (!byTable && !byColumn) continue;
    candidates.push({ target, joins: key.columns.map((column, i) => [column, key.targetColumns[i] ?? ""]), toOne: true, key });
  }
  const child = catalogue.tables.get(name);
  if (child) {
    for (const key of catalogue.referencing(parent.name)) {
      if (key.table !== name) continue;
      // A self-reference followed backwards (the rows pointing at this one).
      if (key.table === parent.name && candidates.some((candidate) => candidate.key === key)) {
        candidates.push({ target: child, joins: key.targetColumns.map((column, i) => [column, key.columns[i] ?? ""]), toOne: false, key });
        continue;
      }
      const unique = child.uniqueKeys.some((columns) => sameSet(columns, key.columns));
      candidates.push({ target: child, joins: key.targetColumns.map((column, i) => [column, key.columns[i] ?? ""]), toOne: unique, key });
    }
  }
  const matching = hint === undefined
    ? candidates
    : candidates.filter(({ key }) => key.name === hint || key.columns.includes(hint) || key.targetColumns.includes(hint));
  if (matching.length === 1 && matching[0]) return matching[0];
  if (matching.length === 0) {
    throw restError("rest_unknown_relationship", `Could not find a relationship between '${parent.name}' and '${name}' in the schema cache`, {
      hint: "Perhaps you meant another table, or the foreign key is missing",
      details: `Searched for a foreign key relationship between '${parent.name}' and '${name}'${hint === undefined ? "" : ` using the hint '${hint}'`} in the schema 'public', but no matches were found.`,
    });
  }
  throw restError("rest_ambiguous_relationship", `Could not embed because more than one relationship was found for '${parent.name}' and '${name}'`, {
    hint: `Try changing '${name}' to one of the following: ${matching.map(({ key }) => `'${name}!${key.name}'`).join(", ")}. Find the desired relationship in the 'details' key.`,
    details: matching.map((relationship) => describe(relationship, parent.name)).join("; "),
  });
}
