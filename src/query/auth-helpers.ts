import type { ClientBase } from "pg";
import { queryRoles } from "./query-roles.js";
import { claimSettings } from "./tenancy-names.js";

/** The schema of the helpers; Supabase spells them the same way. MikroORM owns its tables. */
export const helperSchema = "auth";

const setting = (name: string) => `NULLIF(pg_catalog.current_setting('${name}', true), '')`;
const claims = `COALESCE(${setting(claimSettings.jwtClaims)}, '{}')::pg_catalog.jsonb`;

/**
 * The helpers admin-written policies call: each reads a claim the executor set for the request
 * (as the authenticator, before switching role; user roles cannot execute `set_config`). Plain SQL,
 * STABLE, every name schema-qualified, so no object an admin creates can change what they mean.
 */
const helpers: { signature: string; returns: string; body: string }[] = [
  { signature: "uid()", returns: "pg_catalog.uuid", body: `${setting(claimSettings.userId)}::pg_catalog.uuid` },
  { signature: "tenant_id()", returns: "pg_catalog.text", body: setting(claimSettings.tenantId) },
  { signature: "role()", returns: "pg_catalog.text", body: `${claims} OPERATOR(pg_catalog.->>) 'role'` },
  {
    signature: "scopes()",
    returns: "pg_catalog.text[]",
    body: `ARRAY(SELECT pg_catalog.jsonb_array_elements_text(${claims} OPERATOR(pg_catalog.->) 'scopes'))`,
  },
  { signature: "jwt()", returns: "pg_catalog.jsonb", body: claims },
];

/**
 * Creates `auth.uid()`, `auth.tenant_id()`, `auth.role()`, `auth.scopes()` and `auth.jwt()`, owned
 * by the schema owner, and lets the query roles call them: USAGE on `auth` (its tables, sequences
 * and other functions stay closed: no privilege on any of them) and EXECUTE on these five only.
 * Neither query role can create or replace anything in `auth`, and the statement guard refuses
 * CREATE FUNCTION anywhere.
 */
export async function installAuthHelpers(client: Pick<ClientBase, "query">): Promise<void> {
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${helperSchema}`);
  for (const helper of helpers) {
    await client.query(
      `CREATE OR REPLACE FUNCTION ${helperSchema}.${helper.signature} RETURNS ${helper.returns}
       LANGUAGE sql STABLE AS $fn$ SELECT ${helper.body} $fn$`,
    );
  }
  const { user, admin } = queryRoles;
  await client.query(`REVOKE ALL ON ALL FUNCTIONS IN SCHEMA ${helperSchema} FROM PUBLIC`);
  await client.query(`GRANT USAGE ON SCHEMA ${helperSchema} TO ${user}, ${admin}`);
  const signatures = helpers.map((helper) => `${helperSchema}.${helper.signature}`).join(", ");
  await client.query(`GRANT EXECUTE ON FUNCTION ${signatures} TO ${user}, ${admin}`);
}
