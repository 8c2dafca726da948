/** A column as the catalogue query describes it (postgres-meta's shape; the JSON of `helios.schema.v1.Column`). */
export interface ColumnInfo {
  id: string;
  table_id: number;
  schema: string;
  table: string;
  name: string;
  ordinal_position: number;
  default_value: string | null;
  data_type: string;
  format: string;
  is_identity: boolean;
  identity_generation: "ALWAYS" | "BY DEFAULT" | null;
  is_generated: boolean;
  is_nullable: boolean;
  is_updatable: boolean;
  is_unique: boolean;
  enums: string[];
  generation_expression: string | null;
  comment: string | null;
}

/** One column pair of a foreign key. */
export interface ForeignKeyInfo {
  id: number;
  constraint_name: string;
  source_schema: string;
  source_table_name: string;
  source_column_name: string;
  target_table_schema: string;
  target_table_name: string;
  target_column_name: string;
}

/** A table (the JSON of `helios.schema.v1.Table`). */
export interface TableInfo {
  id: number;
  schema: string;
  name: string;
  rls_enabled: boolean;
  rls_forced: boolean;
  replica_identity: string;
  bytes: number | null;
  size: string | null;
  live_rows_estimate: number | null;
  dead_rows_estimate: number | null;
  comment: string | null;
  columns: ColumnInfo[];
  primary_keys: { schema: string; table_name: string; name: string; table_id: number }[];
  relationships: ForeignKeyInfo[];
  indexes: { name: string; columns: string[]; is_unique: boolean; is_primary: boolean; definition: string }[];
}

/** A view (the JSON of `helios.schema.v1.View`). */
export interface ViewInfo {
  id: number;
  schema: string;
  name: string;
  is_updatable: boolean;
  comment: string | null;
  columns: ColumnInfo[];
}

/** An enum type (the JSON of `helios.schema.v1.Enum`). */
export interface EnumInfo {
  id: number;
  schema: string;
  name: string;
  enums: string[];
}

/** Everything of schema public one role can read, as one catalogue query saw it. */
export interface CatalogueSnapshot {
  tables: TableInfo[];
  views: ViewInfo[];
  enums: EnumInfo[];
}

/**
 * The catalogue query: one row, one JSON document describing the tables, views and enum types of
 * schema `public` that the current role may read (`has_table_privilege`, and
 * `information_schema.columns`, which lists only the columns the role has a privilege on). Run as
 * the caller's role, it cannot show `auth`, `helios_internal` or any other schema. Foreign keys
 * are listed only when both of their tables are readable.
 */
export const catalogueSql = `
WITH rels AS (
  SELECT c.oid, c.relname, c.relkind, c.relrowsecurity, c.relforcerowsecurity, c.relreplident, c.reltuples,
         pg_catalog.obj_description(c.oid, 'pg_class') AS comment
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v')
     AND pg_catalog.has_table_privilege(c.oid, 'SELECT')
),
cols AS (
  SELECT r.oid AS table_id, a.attnum,
         json_build_object(
           'id', r.oid::text || '.' || a.attnum::text,
           'table_id', r.oid::bigint,
           'schema', 'public',
           'table', r.relname,
           'name', a.attname,
           'ordinal_position', a.attnum,
           'default_value', ic.column_default,
           'data_type', ic.data_type,
           'format', t.typname,
           'is_identity', ic.is_identity = 'YES',
           'identity_generation', ic.identity_generation,
           'is_generated', ic.is_generated = 'ALWAYS',
           'is_nullable', ic.is_nullable = 'YES',
           'is_updatable', ic.is_updatable = 'YES',
           'is_unique', EXISTS (
             SELECT 1 FROM pg_catalog.pg_index i
              WHERE i.indrelid = r.oid AND i.indisunique AND i.indnkeyatts = 1 AND i.indkey[0] = a.attnum AND i.indpred IS NULL),
           'enums', (SELECT coalesce(json_agg(e.enumlabel ORDER BY e.enumsortorder), '[]'::json)
                       FROM pg_catalog.pg_enum e WHERE e.enumtypid = a.atttypid),
           'generation_expression', ic.generation_expression,
           'comment', pg_catalog.col_description(r.oid, a.attnum)
         ) AS doc
    FROM rels r
    JOIN information_schema.columns ic ON ic.table_schema = 'public' AND ic.table_name = r.relname
    JOIN pg_catalog.pg_attribute a ON a.attrelid = r.oid AND a.attname = ic.column_name
    JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
),
fks AS (
  SELECT con.oid, con.conname, con.conrelid, con.confrelid, src.relname AS source, dst.relname AS target,
         sa.attname AS source_column, da.attname AS target_column, k.n
    FROM pg_catalog.pg_constraint con
    JOIN rels src ON src.oid = con.conrelid
    JOIN rels dst ON dst.oid = con.confrelid
    CROSS JOIN LATERAL unnest(con.conkey, con.confkey) WITH ORDINALITY AS k(s, d, n)
    JOIN pg_catalog.pg_attribute sa ON sa.attrelid = con.conrelid AND sa.attnum = k.s
    JOIN pg_catalog.pg_attribute da ON da.attrelid = con.confrelid AND da.attnum = k.d
   WHERE con.contype = 'f'
)
SELECT json_build_object(
  'tables', coalesce((
    SELECT json_agg(json_build_object(
      'id', r.oid::bigint,
      'schema', 'public',
      'name', r.relname,
      'rls_enabled', r.relrowsecurity,
      'rls_forced', r.relforcerowsecurity,
      'replica_identity', CASE r.relreplident WHEN 'd' THEN 'DEFAULT' WHEN 'i' THEN 'INDEX' WHEN 'f' THEN 'FULL' ELSE 'NOTHING' END,
      'bytes', pg_catalog.pg_total_relation_size(r.oid),
      'size', pg_catalog.pg_size_pretty(pg_catalog.pg_total_relation_size(r.oid)),
      'live_rows_estimate', greatest(r.reltuples, 0)::bigint,
      'dead_rows_estimate', coalesce(pg_catalog.pg_stat_get_dead_tuples(r.oid), 0),
      'comment', r.comment,
      'columns', coalesce((SELECT json_agg(c.doc ORDER BY c.attnum) FROM cols c WHERE c.table_id = r.oid), '[]'::json),
      'primary_keys', coalesce((
        SELECT json_agg(json_build_object('schema', 'public', 'table_name', r.relname, 'name', a.attname, 'table_id', r.oid::bigint) ORDER BY k.n)
          FROM pg_catalog.pg_index i
          CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
          JOIN pg_catalog.pg_attribute a ON a.attrelid = r.oid AND a.attnum = k.attnum
         WHERE i.indrelid = r.oid AND i.indisprimary), '[]'::json),
      'relationships', coalesce((
        SELECT json_agg(json_build_object(
                 'id', f.oid::bigint, 'constraint_name', f.conname,
                 'source_schema', 'public', 'source_table_name', f.source, 'source_column_name', f.source_column,
                 'target_table_schema', 'public', 'target_table_name', f.target, 'target_column_name', f.target_column)
               ORDER BY f.conname, f.source, f.n)
          FROM fks f WHERE f.conrelid = r.oid OR f.confrelid = r.oid), '[]'::json),
      'indexes', coalesce((
        SELECT json_agg(json_build_object(
                 'name', ic.relname,
                 'columns', (SELECT coalesce(json_agg(a.attname ORDER BY k.n), '[]'::json)
                               FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
                               JOIN pg_catalog.pg_attribute a ON a.attrelid = r.oid AND a.attnum = k.attnum),
                 'is_unique', i.indisunique, 'is_primary', i.indisprimary,
                 'definition', pg_catalog.pg_get_indexdef(i.indexrelid)) ORDER BY ic.relname)
          FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
         WHERE i.indrelid = r.oid), '[]'::json)
    ) ORDER BY r.relname)
    FROM rels r WHERE r.relkind IN ('r', 'p')), '[]'::json),
  'views', coalesce((
    SELECT json_agg(json_build_object(
      'id', r.oid::bigint,
      'schema', 'public',
      'name', r.relname,
      'is_updatable', (pg_catalog.pg_relation_is_updatable(r.oid, false) & 20) = 20,
      'comment', r.comment,
      'columns', coalesce((SELECT json_agg(c.doc ORDER BY c.attnum) FROM cols c WHERE c.table_id = r.oid), '[]'::json)
    ) ORDER BY r.relname)
    FROM rels r WHERE r.relkind = 'v'), '[]'::json),
  'enums', coalesce((
    SELECT json_agg(json_build_object(
      'id', t.oid::bigint,
      'schema', 'public',
      'name', t.typname,
      'enums', (SELECT json_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid)
    ) ORDER BY t.typname)
    FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
   WHERE n.nspname = 'public' AND t.typtype = 'e' AND pg_catalog.has_type_privilege(t.oid, 'USAGE')), '[]'::json)
) AS catalogue`;

/**
 * The snapshot a non-admin may see: size and row estimates count every tenant's rows, so only
 * admins (who see every tenant) get them.
 */
export function forCaller(snapshot: CatalogueSnapshot, admin: boolean): CatalogueSnapshot {
  if (admin) return snapshot;
  return {
    ...snapshot,
    tables: snapshot.tables.map((table) => ({ ...table, bytes: null, size: null, live_rows_estimate: null, dead_rows_estimate: null })),
  };
}
