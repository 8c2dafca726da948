import type { Principal } from "../auth/principal.js";
import { resolveAccess } from "../query/request-setup.js";
import type { QueryExecutor } from "../query/executor.js";
import type { JsonValue } from "../query/result-encoding.js";

/** A column of a table or view, as the role sees it. */
export interface CatalogueColumn {
  name: string;
  /** `format_type` of the column: "integer", "character varying(20)", "text[]". */
  type: string;
  /** The type's own name: "int4", "varchar", "_text". */
  baseType: string;
  nullable: boolean;
  /** The default expression, if any. */
  defaultValue: string | null;
  generated: boolean;
  identity: boolean;
  /** Labels of an enum type. */
  enumValues: string[] | null;
  /** Whether the role may read it (`select=*` lists only these). */
  selectable: boolean;
  comment: string | null;
}

/** A foreign key of a table onto another table in `public`. */
export interface ForeignKey {
  name: string;
  /** The referencing table and columns. */
  table: string;
  columns: string[];
  /** The referenced table and columns. */
  target: string;
  targetColumns: string[];
}

/** A table or view the role can see. */
export interface CatalogueTable {
  name: string;
  kind: "table" | "view";
  comment: string | null;
  columns: ReadonlyMap<string, CatalogueColumn>;
  primaryKey: string[];
  /** Column sets with a unique constraint (the primary key included). */
  uniqueKeys: string[][];
  /** Foreign keys of this table, onto tables the role can see. */
  foreignKeys: ForeignKey[];
  insertable: boolean;
  updatable: boolean;
  deletable: boolean;
}

/** What one role can see in `public`. */
export interface Catalogue {
  tables: ReadonlyMap<string, CatalogueTable>;
  /** Foreign keys of other tables (or this one) onto `table`. */
  referencing(table: string): ForeignKey[];
}

/**
 * Reads what the executing role can see, in one statement, as that role (so privileges decide, not
 * this code): tables and views of `public` on which it holds any column privilege, their columns
 * with a privilege, keys, and foreign keys.
 */
export const catalogueSql = `
SELECT coalesce(pg_catalog.json_agg(pg_catalog.json_build_object(
  'name', c.relname,
  'kind', CASE WHEN c.relkind IN ('v', 'm') THEN 'view' ELSE 'table' END,
  'comment', pg_catalog.obj_description(c.oid, 'pg_class'),
  'insertable', pg_catalog.has_table_privilege(c.oid, 'INSERT'),
  'updatable', pg_catalog.has_table_privilege(c.oid, 'UPDATE'),
  'deletable', pg_catalog.has_table_privilege(c.oid, 'DELETE'),
  'columns', (
    SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
      'name', a.attname,
      'type', pg_catalog.format_type(a.atttypid, a.atttypmod),
      'base', t.typname,
      'nullable', NOT a.attnotnull,
      'default', pg_catalog.pg_get_expr(d.adbin, d.adrelid),
      'generated', a.attgenerated <> '',
      'identity', a.attidentity <> '',
      'selectable', pg_catalog.has_column_privilege(c.oid, a.attnum, 'SELECT'),
      'comment', pg_catalog.col_description(c.oid, a.attnum),
      'enum', (SELECT pg_catalog.json_agg(e.enumlabel ORDER BY e.enumsortorder)
                 FROM pg_catalog.pg_enum e WHERE e.enumtypid = a.atttypid)
    ) ORDER BY a.attnum)
    FROM pg_catalog.pg_attribute a
    JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
    LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      AND pg_catalog.has_column_privilege(c.oid, a.attnum, 'SELECT, INSERT, UPDATE, REFERENCES')
  ),
  'keys', (
    SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
      'type', k.contype,
      'name', k.conname,
      'columns', (SELECT pg_catalog.json_agg(a.attname ORDER BY u.ord)
                    FROM pg_catalog.unnest(k.conkey) WITH ORDINALITY AS u(attnum, ord)
                    JOIN pg_catalog.pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum),
      'target', tc.relname,
      'target_columns', (SELECT pg_catalog.json_agg(a.attname ORDER BY u.ord)
                           FROM pg_catalog.unnest(k.confkey) WITH ORDINALITY AS u(attnum, ord)
                           JOIN pg_catalog.pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.attnum)
    ) ORDER BY k.conname)
    FROM pg_catalog.pg_constraint k
    LEFT JOIN pg_catalog.pg_class tc ON tc.oid = k.confrelid
    LEFT JOIN pg_catalog.pg_namespace tn ON tn.oid = tc.relnamespace
    WHERE k.conrelid = c.oid AND (k.contype IN ('p', 'u') OR (k.contype = 'f' AND tn.nspname = 'public'))
  )
) ORDER BY c.relname), '[]') AS catalogue
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND pg_catalog.has_any_column_privilege(c.oid, 'SELECT, INSERT, UPDATE, REFERENCES')`;

interface RawColumn {
  name: string;
  type: string;
  base: string;
  nullable: boolean;
  default: string | null;
  generated: boolean;
  identity: boolean;
  selectable: boolean;
  comment: string | null;
  enum: string[] | null;
}

interface RawKey {
  type: "p" | "u" | "f";
  name: string;
  columns: string[];
  target: string | null;
  target_columns: string[] | null;
}

interface RawTable {
  name: string;
  kind: "table" | "view";
  comment: string | null;
  insertable: boolean;
  updatable: boolean;
  deletable: boolean;
  columns: RawColumn[] | null;
  keys: RawKey[] | null;
}

/** Builds a {@link Catalogue} from the JSON that {@link catalogueSql} answers. */
export function buildCatalogue(raw: JsonValue): Catalogue {
  const rows = raw as unknown as RawTable[];
  const tables = new Map<string, CatalogueTable>();
  for (const row of rows) {
    const columns = new Map<string, CatalogueColumn>();
    for (const column of row.columns ?? []) {
      columns.set(column.name, {
        name: column.name,
        type: column.type,
        baseType: column.base,
        nullable: column.nullable,
        defaultValue: column.default,
        generated: column.generated,
        identity: column.identity,
        enumValues: column.enum,
        selectable: column.selectable,
        comment: column.comment,
      });
    }
    const keys = row.keys ?? [];
    tables.set(row.name, {
      name: row.name,
      kind: row.kind,
      comment: row.comment,
      columns,
      primaryKey: keys.find((key) => key.type === "p")?.columns ?? [],
      uniqueKeys: keys.filter((key) => key.type !== "f").map((key) => key.columns),
      foreignKeys: keys
        .filter((key) => key.type === "f" && key.target !== null)
        .map((key) => ({
          name: key.name,
          table: row.name,
          columns: key.columns,
          target: key.target ?? "",
          targetColumns: key.target_columns ?? [],
        })),
      insertable: row.insertable,
      updatable: row.updatable,
      deletable: row.deletable,
    });
  }
  // Foreign keys onto tables the role cannot see are no relationship it may follow.
  for (const table of tables.values()) {
    table.foreignKeys = table.foreignKeys.filter((key) => tables.has(key.target));
  }
  const referencing = new Map<string, ForeignKey[]>();
  for (const table of tables.values()) {
    for (const key of table.foreignKeys) {
      const list = referencing.get(key.target) ?? [];
      list.push(key);
      referencing.set(key.target, list);
    }
  }
  return { tables, referencing: (table) => referencing.get(table) ?? [] };
}

/** Options of {@link createCatalogueCache}. */
export interface CatalogueCacheOptions {
  executor: Pick<QueryExecutor, "execute">;
  /** How long a catalogue is trusted without news of a schema change (default 1000 ms). */
  ttlMs?: number;
  /** The clock, for tests. */
  now?: () => number;
}

/** The catalogues of the query roles, cached. */
export interface CatalogueCache {
  /** What the role `principal` runs as can see; read through the executor as that role when stale. */
  get(principal: Principal, tenantOverride: string | undefined): Promise<Catalogue>;
  /** Forgets every catalogue (the schema changed). */
  forget(): void;
}

interface Entry {
  loaded: Promise<Catalogue>;
  at: number;
  /** A reload started when the entry went stale, served once it completes. */
  refreshing?: Promise<Catalogue>;
}

/**
 * Caches one catalogue per database role (tenants share a role and RLS does not hide catalogue
 * rows, so they share a catalogue). DDL run through this instance forgets every entry at once (see
 * `QueryExecutor.onSchemaChange`). An entry older than `ttlMs` is reloaded, so DDL run elsewhere
 * is seen within `ttlMs` plus one load; while that reload runs, requests keep the entry they have
 * (a reload costs tens of milliseconds, which every request of the moment would otherwise wait),
 * unless it is older than twice `ttlMs`, when they wait for the reload.
 */
export function createCatalogueCache(options: CatalogueCacheOptions): CatalogueCache {
  const ttlMs = options.ttlMs ?? 1000;
  const now = options.now ?? Date.now;
  const entries = new Map<string, Entry>();
  let generation = 0;

  // An entry's age counts from when its load completed: a slow load must not come back stale.
  const load = (principal: Principal, tenantOverride: string | undefined): Entry => {
    const timing = { at: now() };
    const loaded = options.executor
      .execute({ principal, sql: catalogueSql, readOnly: true, tenantOverride })
      .then((result) => {
        timing.at = now();
        return buildCatalogue((result.rows[0] as Record<string, JsonValue> | undefined)?.catalogue ?? []);
      });
    return Object.assign(timing, { loaded });
  };

  return {
    get(principal, tenantOverride) {
      const role = resolveAccess(principal, { tenantOverride }).role;
      const cached = entries.get(role);
      const age = cached === undefined ? Infinity : now() - cached.at;
      if (cached && age < ttlMs) return cached.loaded;
      if (cached && age < 2 * ttlMs) {
        if (cached.refreshing === undefined) {
          const started = generation;
          const next = load(principal, tenantOverride);
          cached.refreshing = next.loaded;
          next.loaded.then(
            // A reload that began before the schema changed is not kept.
            () => {
              if (generation === started && entries.get(role) === cached) entries.set(role, next);
            },
            () => delete cached.refreshing,
          );
        }
        return cached.loaded;
      }
      const entry = load(principal, tenantOverride);
      entries.set(role, entry);
      entry.loaded.catch(() => {
        if (entries.get(role) === entry) entries.delete(role);
      });
      return entry.loaded;
    },
    forget() {
      generation++;
      entries.clear();
    },
  };
}
