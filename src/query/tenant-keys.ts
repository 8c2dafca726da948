/**
 * Keys that cross tenants. A unique index (or primary key) of a tenant table is checked over every
 * tenant's rows, and a foreign key is checked without row-level security: when such a key does not
 * include `tenant_id`, a duplicate-key or missing-key error tells one tenant whether another tenant
 * holds a value (`ceo@bigdeal.com`), and a foreign key lets a row point at another tenant's row.
 *
 * `check_tenant_keys(strict)` runs after every admin DDL, in its transaction: it looks at the keys
 * created in this transaction, and at every key of a table that became a tenant table in it, and
 * raises a WARNING (SQLSTATE 01Z01) for each one without `tenant_id`, or, when `strict`, fails with
 * SQLSTATE Z1T01 so the DDL is rolled back. Exempt: a one-column unique key whose values the database
 * generates (identity, `nextval`, `gen_random_uuid`, `uuidv7`); a duplicate of one tells only that an
 * id is taken, which a shared sequence or a random uuid already makes no secret of. Foreign keys to a
 * shared table are exempt too: every tenant reads it.
 */
import { internalSchema, keyWithoutTenantRefusal, tenancyNoticeCodes, tenantPolicy } from "./tenancy-names.js";

/** The function; installed by the schema owner, executable by `helios_admin`. */
export const checkTenantKeysSql = `
CREATE OR REPLACE FUNCTION ${internalSchema}.check_tenant_keys(strict boolean) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  r record;
  message text;
  found integer := 0;
  this_xact xid := pg_current_xact_id()::xid;
BEGIN
  FOR r IN
    WITH tenant_tables AS (
      SELECT cl.oid, cl.relname, a.attnum AS tenant_attnum, pol.xmin = this_xact AS became
        FROM pg_class cl
        JOIN pg_namespace ns ON ns.oid = cl.relnamespace
        JOIN pg_attribute a ON a.attrelid = cl.oid AND a.attname = 'tenant_id' AND a.attnum > 0 AND NOT a.attisdropped
        JOIN pg_policy pol ON pol.polrelid = cl.oid AND pol.polname = '${tenantPolicy}'
       WHERE ns.nspname = 'public' AND cl.relkind IN ('r', 'p')
    )
    SELECT t.relname, ic.relname AS keyname,
           CASE WHEN i.indisprimary THEN 'primary key' ELSE 'unique index' END AS what
      FROM tenant_tables t
      JOIN pg_index i ON i.indrelid = t.oid AND i.indisunique
      JOIN pg_class ic ON ic.oid = i.indexrelid
     WHERE (i.xmin = this_xact OR t.became)
       AND NOT t.tenant_attnum = ANY (i.indkey::int2[])
       AND NOT (i.indnkeyatts = 1 AND EXISTS (
             SELECT 1 FROM pg_attribute ka
               LEFT JOIN pg_attrdef kd ON kd.adrelid = ka.attrelid AND kd.adnum = ka.attnum
              WHERE ka.attrelid = t.oid AND ka.attnum = i.indkey[0]
                AND (ka.attidentity <> ''
                     OR pg_get_expr(kd.adbin, kd.adrelid) ~ '^(nextval\\(|gen_random_uuid\\(|uuidv7\\(|uuid_generate_v4\\()')))
    UNION ALL
    SELECT t.relname, co.conname, 'foreign key'
      FROM tenant_tables t
      JOIN pg_constraint co ON co.conrelid = t.oid AND co.contype = 'f'
      JOIN tenant_tables referenced ON referenced.oid = co.confrelid
     WHERE (co.xmin = this_xact OR t.became)
       AND NOT t.tenant_attnum = ANY (co.conkey)
     ORDER BY 1, 2
  LOOP
    found := found + 1;
    message := format('%s %I of tenant table %I does not include tenant_id: its errors tell one tenant about another''s rows; add tenant_id to the key',
                      r.what, r.keyname, r.relname);
    IF strict THEN
      RAISE EXCEPTION USING ERRCODE = '${keyWithoutTenantRefusal}', MESSAGE = message;
    END IF;
    RAISE WARNING USING ERRCODE = '${tenancyNoticeCodes.keyWithoutTenant}', MESSAGE = message;
  END LOOP;
  RETURN found;
END
$fn$`;
