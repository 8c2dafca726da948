import type { ClientBase } from "pg";
import { queryRoles } from "./query-roles.js";

/** Schema holding the tenancy functions; user roles cannot see into it. */
export const internalSchema = "helios_internal";

/** Name of the event trigger that secures tables as they are created or altered. */
export const tenancyEventTrigger = "helios_tenancy";

/** The policy every tenant-scoped table gets: rows of the request's tenant only. */
export const tenantPolicy = "helios_tenant";

/** The policy letting an unscoped admin request see and write every tenant's rows. */
export const allTenantsPolicy = "helios_all_tenants";

/** Settings the executor sets per transaction and the policies read. */
export const claimSettings = {
  /** The tenant a request is confined to ('' when none). */
  tenantId: "request.tenant_id",
  /** 'on' when an admin runs without X-Tenant-ID, 'off' otherwise. */
  allTenants: "request.all_tenants",
} as const;

/** Tags after which the event trigger re-checks the relations a command touched. */
const triggerTags = ["CREATE TABLE", "CREATE TABLE AS", "SELECT INTO", "ALTER TABLE", "CREATE VIEW", "ALTER VIEW"];

/**
 * `secure_relation(oid)`: for a table in `public` with a `tenant_id` column, ENABLE and FORCE row
 * level security, create the two policies when missing and default `tenant_id` to the claim; for a
 * view in `public`, set `security_invoker = true`. Idempotent: it issues DDL only for what is
 * missing, which also stops the event trigger from recursing on its own ALTERs.
 *
 * The claim is cast to the column's own type so that `tenant_id = claim` can use an index; NULLIF
 * turns an unset claim into NULL, which matches no row.
 */
const secureRelationSql = `
CREATE OR REPLACE FUNCTION ${internalSchema}.secure_relation(rel oid) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  c record;
  col record;
  claim text;
  changed boolean := false;
BEGIN
  SELECT cl.relname, cl.relkind, cl.relrowsecurity, cl.relforcerowsecurity, cl.reloptions, ns.nspname
    INTO c
    FROM pg_class cl JOIN pg_namespace ns ON ns.oid = cl.relnamespace
   WHERE cl.oid = rel AND ns.nspname = 'public';
  IF NOT FOUND THEN
    RETURN false;
  END IF;

  IF c.relkind = 'v' THEN
    IF NOT EXISTS (
      SELECT 1 FROM unnest(coalesce(c.reloptions, '{}'::text[])) AS o(opt)
       WHERE split_part(o.opt, '=', 1) = 'security_invoker'
         AND substr(o.opt, strpos(o.opt, '=') + 1)::boolean
    ) THEN
      EXECUTE format('ALTER VIEW %I.%I SET (security_invoker = true)', c.nspname, c.relname);
      changed := true;
    END IF;
    RETURN changed;
  END IF;

  IF c.relkind NOT IN ('r', 'p') THEN
    RETURN false;
  END IF;

  SELECT format_type(a.atttypid, a.atttypmod) AS typ, a.attidentity, a.attgenerated,
         pg_get_expr(d.adbin, d.adrelid) AS def
    INTO col
    FROM pg_attribute a
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE a.attrelid = rel AND a.attname = 'tenant_id' AND a.attnum > 0 AND NOT a.attisdropped;
  IF NOT FOUND THEN
    RETURN false;
  END IF;

  claim := format('(NULLIF(pg_catalog.current_setting(%L, true), %L))::%s', '${claimSettings.tenantId}', '', col.typ);

  IF NOT c.relrowsecurity THEN
    EXECUTE format('ALTER TABLE %I.%I ENABLE ROW LEVEL SECURITY', c.nspname, c.relname);
    changed := true;
  END IF;
  IF NOT c.relforcerowsecurity THEN
    EXECUTE format('ALTER TABLE %I.%I FORCE ROW LEVEL SECURITY', c.nspname, c.relname);
    changed := true;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_policy WHERE polrelid = rel AND polname = '${tenantPolicy}') THEN
    EXECUTE format('CREATE POLICY ${tenantPolicy} ON %I.%I AS PERMISSIVE FOR ALL TO PUBLIC USING (tenant_id = %s) WITH CHECK (tenant_id = %s)',
                   c.nspname, c.relname, claim, claim);
    changed := true;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_policy WHERE polrelid = rel AND polname = '${allTenantsPolicy}') THEN
    EXECUTE format('CREATE POLICY ${allTenantsPolicy} ON %I.%I AS PERMISSIVE FOR ALL TO ${queryRoles.admin} USING (pg_catalog.current_setting(%L, true) = %L) WITH CHECK (pg_catalog.current_setting(%L, true) = %L)',
                   c.nspname, c.relname, '${claimSettings.allTenants}', 'on', '${claimSettings.allTenants}', 'on');
    changed := true;
  END IF;
  IF col.attidentity = '' AND col.attgenerated = ''
     AND (col.def IS NULL OR strpos(col.def, '${claimSettings.tenantId}') = 0) THEN
    EXECUTE format('ALTER TABLE %I.%I ALTER COLUMN tenant_id SET DEFAULT %s', c.nspname, c.relname, claim);
    changed := true;
  END IF;
  RETURN changed;
END
$fn$`;

const syncTenancySql = `
CREATE OR REPLACE FUNCTION ${internalSchema}.sync_tenancy() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  r record;
  changed integer := 0;
BEGIN
  FOR r IN SELECT cl.oid FROM pg_class cl JOIN pg_namespace ns ON ns.oid = cl.relnamespace
            WHERE ns.nspname = 'public' AND cl.relkind IN ('r', 'p', 'v') ORDER BY cl.oid LOOP
    IF ${internalSchema}.secure_relation(r.oid) THEN
      changed := changed + 1;
    END IF;
  END LOOP;
  RETURN changed;
END
$fn$`;

const onDdlSql = `
CREATE OR REPLACE FUNCTION ${internalSchema}.on_ddl() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  r record;
BEGIN
  FOR r IN SELECT DISTINCT objid FROM pg_event_trigger_ddl_commands()
            WHERE classid = 'pg_catalog.pg_class'::regclass AND schema_name = 'public' LOOP
    PERFORM ${internalSchema}.secure_relation(r.objid);
  END LOOP;
END
$fn$`;

const tagList = triggerTags.map((tag) => `'${tag}'`).join(", ");

/** Creates (or re-creates, when its tags changed) the event trigger; needs superuser. */
const eventTriggerSql = `
DO $do$
DECLARE
  existing record;
BEGIN
  SELECT evttags, evtenabled INTO existing FROM pg_event_trigger WHERE evtname = '${tenancyEventTrigger}';
  IF FOUND AND existing.evttags IS DISTINCT FROM ARRAY[${tagList}]::text[] THEN
    DROP EVENT TRIGGER ${tenancyEventTrigger};
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = '${tenancyEventTrigger}') THEN
    CREATE EVENT TRIGGER ${tenancyEventTrigger} ON ddl_command_end
      WHEN TAG IN (${tagList})
      EXECUTE FUNCTION ${internalSchema}.on_ddl();
  ELSIF existing.evtenabled = 'D' THEN
    ALTER EVENT TRIGGER ${tenancyEventTrigger} ENABLE;
  END IF;
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'helios: event trigger not installed (%); tenancy is synced after each admin DDL instead', SQLERRM;
END
$do$`;

/** What {@link installTenancy} managed to set up. */
export interface TenancyReport {
  /** Whether the event trigger is in place (false where the owner is not a superuser). */
  eventTrigger: boolean;
  /** Relations changed by the initial sync. */
  changed: number;
}

/**
 * Installs the tenancy functions and event trigger and secures every existing relation. Run by the
 * schema owner inside the caller's transaction, after the roles exist (the policies name
 * `helios_admin`).
 */
export async function installTenancy(client: ClientBase): Promise<TenancyReport> {
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${internalSchema}`);
  await client.query(`REVOKE ALL ON SCHEMA ${internalSchema} FROM PUBLIC`);
  await client.query(secureRelationSql);
  await client.query(syncTenancySql);
  await client.query(onDdlSql);
  await client.query(`REVOKE ALL ON ALL FUNCTIONS IN SCHEMA ${internalSchema} FROM PUBLIC`);
  // The executor follows every admin DDL with sync_tenancy, in the same transaction and as
  // helios_admin (the fallback where no event trigger can be created); it only ever tightens security.
  await client.query(`GRANT USAGE ON SCHEMA ${internalSchema} TO ${queryRoles.admin}`);
  await client.query(`GRANT EXECUTE ON FUNCTION ${internalSchema}.sync_tenancy() TO ${queryRoles.admin}`);
  await client.query(eventTriggerSql);
  const trigger = await client.query<{ present: boolean }>(
    "SELECT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = $1 AND evtenabled <> 'D') AS present",
    [tenancyEventTrigger],
  );
  const changed = await syncTenancy(client);
  return { eventTrigger: trigger.rows[0]?.present === true, changed };
}

/**
 * Applies the tenancy rules to every relation in `public` (see `secure_relation`); returns how many
 * relations it changed. Safe to run at any time, by the owner or by the admin role.
 */
export async function syncTenancy(client: Pick<ClientBase, "query">): Promise<number> {
  const result = await client.query<{ changed: number }>(`SELECT ${internalSchema}.sync_tenancy() AS changed`);
  return result.rows[0]?.changed ?? 0;
}

/** The statement the executor appends to admin DDL, so tenancy holds even without the event trigger. */
export const syncTenancyStatement = `SELECT ${internalSchema}.sync_tenancy()`;
