import type { ClientBase } from "pg";
import { installAuthHelpers } from "./auth-helpers.js";
import { queryRoles } from "./query-roles.js";
import type { PipelineStatement } from "./statement-pipeline.js";
import { checkTenantKeysSql } from "./tenant-keys.js";
import {
  allTenantsPolicy,
  claimSettings,
  internalSchema,
  gatePolicy,
  ownerPolicy,
  ownerRowsPolicy,
  servicePolicyPattern,
  sharedPolicies,
  tenancyEventTrigger,
  tenancyNoticeCodes,
  tenantPolicy,
} from "./tenancy-names.js";

export { tenancyEventTrigger } from "./tenancy-names.js";

/** Tags after which the event trigger re-checks the relations a command touched. */
const triggerTags = ["CREATE TABLE", "CREATE TABLE AS", "SELECT INTO", "ALTER TABLE", "CREATE VIEW", "ALTER VIEW"];

/** `(NULLIF(current_setting(setting), ''))::type`, built inside PL/pgSQL with format(). */
const claimExpression = (setting: string, typeVariable: string) =>
  `format('(NULLIF(pg_catalog.current_setting(%L, true), %L))::%s', '${setting}', '', ${typeVariable})`;

/**
 * `secure_relation(oid)`: for a view in `public`, set `security_invoker = true`; for a table in
 * `public`, ENABLE and FORCE row level security and give it the policies of its kind, dropping the
 * service's policies of another kind (a column added, renamed or dropped changes the kind):
 *
 * - tenant table (`tenant_id`): the tenant policy and the admin all-tenants policy; `tenant_id`
 *   defaults to the request's tenant;
 * - owned table (`owner_id` of type uuid or text): additionally the restrictive owner policy for
 *   `helios_user` (an admin is not confined to its own rows); without `tenant_id`, a permissive policy
 *   on the owner instead of the tenant policy; `owner_id` defaults to the request's user;
 * - shared table (neither): read by every request, written by `helios_admin` only;
 * - while a tenant or owned table has admin policies, the restrictive gate (see `gatePolicy`).
 *
 * Raises a NOTICE (SQLSTATE 01Z00) naming the kind whenever the policies change. Idempotent: it
 * issues DDL only for what is missing, which also stops the event trigger from recursing on its own
 * ALTERs. Claims are cast to the column's own type so that comparisons can use an index; NULLIF
 * turns an unset claim into NULL, which matches no row.
 */
const secureRelationSql = `
CREATE OR REPLACE FUNCTION ${internalSchema}.secure_relation(rel oid) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  c record;
  tenant_col record;
  owner_col record;
  has_tenant boolean;
  has_owner boolean;
  tenant_claim text;
  user_claim text;
  target text;
  wanted jsonb := '{}';
  p record;
  kind text;
  policies_changed boolean := false;
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
    INTO tenant_col
    FROM pg_attribute a
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE a.attrelid = rel AND a.attname = 'tenant_id' AND a.attnum > 0 AND NOT a.attisdropped;
  has_tenant := FOUND;
  SELECT format_type(a.atttypid, NULL) AS typ, a.attidentity, a.attgenerated,
         pg_get_expr(d.adbin, d.adrelid) AS def
    INTO owner_col
    FROM pg_attribute a
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE a.attrelid = rel AND a.attname = 'owner_id' AND a.attnum > 0 AND NOT a.attisdropped
     AND a.atttypid IN ('uuid'::regtype, 'text'::regtype, 'varchar'::regtype);
  has_owner := FOUND;

  -- RLS first: the ALTERs re-enter this function through the event trigger, which may do the rest.
  IF NOT c.relrowsecurity THEN
    EXECUTE format('ALTER TABLE %I.%I ENABLE ROW LEVEL SECURITY', c.nspname, c.relname);
    changed := true;
  END IF;
  IF NOT c.relforcerowsecurity THEN
    EXECUTE format('ALTER TABLE %I.%I FORCE ROW LEVEL SECURITY', c.nspname, c.relname);
    changed := true;
  END IF;

  target := format('%I.%I', c.nspname, c.relname);
  IF has_tenant THEN
    tenant_claim := ${claimExpression(claimSettings.tenantId, "tenant_col.typ")};
    wanted := wanted || jsonb_build_object('${tenantPolicy}',
      format('CREATE POLICY ${tenantPolicy} ON %s AS PERMISSIVE FOR ALL TO PUBLIC USING (tenant_id = %s) WITH CHECK (tenant_id = %s)',
             target, tenant_claim, tenant_claim));
  END IF;
  IF has_owner THEN
    user_claim := ${claimExpression(claimSettings.userId, "owner_col.typ")};
    wanted := wanted || jsonb_build_object('${ownerPolicy}',
      format('CREATE POLICY %I ON %s AS RESTRICTIVE FOR ALL TO ${queryRoles.user} USING (owner_id = %s) WITH CHECK (owner_id = %s)',
             '${ownerPolicy}', target, user_claim, user_claim));
    IF NOT has_tenant THEN
      wanted := wanted || jsonb_build_object('${ownerRowsPolicy}',
        format('CREATE POLICY ${ownerRowsPolicy} ON %s AS PERMISSIVE FOR ALL TO PUBLIC USING (owner_id = %s) WITH CHECK (owner_id = %s)',
               target, user_claim, user_claim));
    END IF;
  END IF;
  IF has_tenant OR has_owner THEN
    wanted := wanted || jsonb_build_object('${allTenantsPolicy}',
      format('CREATE POLICY ${allTenantsPolicy} ON %s AS PERMISSIVE FOR ALL TO ${queryRoles.admin} USING (pg_catalog.current_setting(%L, true) = %L) WITH CHECK (pg_catalog.current_setting(%L, true) = %L)',
             target, '${claimSettings.allTenants}', 'on', '${claimSettings.allTenants}', 'on'));
  ELSE
    wanted := wanted || jsonb_build_object(
      '${sharedPolicies.read}', format('CREATE POLICY ${sharedPolicies.read} ON %s AS PERMISSIVE FOR SELECT TO PUBLIC USING (true)', target),
      '${sharedPolicies.write}', format('CREATE POLICY ${sharedPolicies.write} ON %s AS PERMISSIVE FOR ALL TO ${queryRoles.admin} USING (true) WITH CHECK (true)', target));
  END IF;

  IF (has_tenant OR has_owner) AND EXISTS (
       SELECT 1 FROM pg_policy WHERE polrelid = rel AND polname !~ '${servicePolicyPattern}') THEN
    wanted := wanted || jsonb_build_object('${gatePolicy}',
      format('CREATE POLICY %I ON %s AS RESTRICTIVE FOR ALL TO PUBLIC USING (%s OR pg_catalog.current_setting(%L, true) = %L)',
             '${gatePolicy}', target,
             CASE WHEN has_tenant THEN format('tenant_id = %s', tenant_claim) ELSE format('owner_id = %s', user_claim) END,
             '${claimSettings.allTenants}', 'on'));
  END IF;

  -- The gate comes and goes with admin policies; it changes no table's kind.
  FOR p IN SELECT polname FROM pg_policy WHERE polrelid = rel AND polname ~ '${servicePolicyPattern}' LOOP
    IF NOT wanted ? p.polname THEN
      EXECUTE format('DROP POLICY IF EXISTS %I ON %s', p.polname, target);
      policies_changed := policies_changed OR p.polname <> '${gatePolicy}';
      changed := true;
    END IF;
  END LOOP;
  FOR p IN SELECT key, value FROM jsonb_each_text(wanted) ORDER BY key LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_policy WHERE polrelid = rel AND polname = p.key) THEN
      EXECUTE p.value;
      policies_changed := policies_changed OR p.key <> '${gatePolicy}';
      changed := true;
    END IF;
  END LOOP;

  IF has_tenant AND tenant_col.attidentity = '' AND tenant_col.attgenerated = ''
     AND (tenant_col.def IS NULL OR strpos(tenant_col.def, '${claimSettings.tenantId}') = 0) THEN
    EXECUTE format('ALTER TABLE %s ALTER COLUMN tenant_id SET DEFAULT %s', target, tenant_claim);
    changed := true;
  END IF;
  IF has_owner AND owner_col.attidentity = '' AND owner_col.attgenerated = ''
     AND (owner_col.def IS NULL OR strpos(owner_col.def, '${claimSettings.userId}') = 0) THEN
    EXECUTE format('ALTER TABLE %s ALTER COLUMN owner_id SET DEFAULT %s', target, user_claim);
    changed := true;
  END IF;

  IF policies_changed THEN
    kind := CASE
      WHEN has_owner AND has_tenant THEN 'an owned table: each user reads and writes only its own rows (owner_id) inside its tenant (tenant_id); admins see every row of the tenants they may see'
      WHEN has_owner THEN 'an owned table: each user reads and writes only its own rows (owner_id); admins without X-Tenant-ID see every row'
      WHEN has_tenant THEN 'a tenant table: each tenant reads and writes only its own rows (tenant_id)'
      ELSE 'a shared table: every tenant reads it, only admins write it (no tenant_id or owner_id column)'
    END;
    RAISE NOTICE USING ERRCODE = '${tenancyNoticeCodes.tableKind}', MESSAGE = format('table %I is %s', c.relname, kind);
  END IF;
  RETURN changed OR policies_changed;
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

/** After admin DDL, as `helios_admin`: tenancy re-applied, then the new keys checked. */
const afterAdminDdlSql = `
CREATE OR REPLACE FUNCTION ${internalSchema}.after_admin_ddl(strict boolean) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  PERFORM ${internalSchema}.sync_tenancy();
  RETURN ${internalSchema}.check_tenant_keys(strict);
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
 * Installs the tenancy functions, the event trigger and the `auth` helper functions, and secures
 * every existing relation. Run by the schema owner inside the caller's transaction, after the roles
 * exist (the policies name `helios_admin` and `helios_user`).
 */
export async function installTenancy(client: ClientBase): Promise<TenancyReport> {
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${internalSchema}`);
  await client.query(`REVOKE ALL ON SCHEMA ${internalSchema} FROM PUBLIC`);
  await client.query(secureRelationSql);
  await client.query(syncTenancySql);
  await client.query(onDdlSql);
  await client.query(checkTenantKeysSql);
  await client.query(afterAdminDdlSql);
  await client.query(`REVOKE ALL ON ALL FUNCTIONS IN SCHEMA ${internalSchema} FROM PUBLIC`);
  // The executor follows every admin DDL with after_admin_ddl, in the same transaction and as
  // helios_admin (the fallback where no event trigger can be created); it only ever tightens security.
  await client.query(`GRANT USAGE ON SCHEMA ${internalSchema} TO ${queryRoles.admin}`);
  await client.query(`GRANT EXECUTE ON FUNCTION ${internalSchema}.after_admin_ddl(boolean) TO ${queryRoles.admin}`);
  await installAuthHelpers(client);
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

/**
 * The statement the executor appends to admin DDL: tenancy re-applied (so it holds even without the
 * event trigger), then the keys the DDL created checked for `tenant_id` (see `tenant-keys.ts`);
 * `strict` refuses such a key instead of warning.
 */
export function afterAdminDdl(strict: boolean): PipelineStatement {
  return { text: `SELECT ${internalSchema}.after_admin_ddl($1)`, values: [strict ? "true" : "false"] };
}
