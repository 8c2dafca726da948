import { apiError } from "../errors/catalogue.js";
import type { Principal } from "../auth/principal.js";
import { queryRoles, type RequestRole } from "./query-roles.js";
import { strongestScope } from "./sql-guard.js";
import type { PipelineStatement } from "./statement-pipeline.js";
import { claimSettings } from "./tenancy-names.js";

/** Who a statement runs as and what the tenancy policies see. */
export interface RequestAccess {
  role: RequestRole;
  /** The `request.tenant_id` claim. */
  tenantId: string;
  /** The `request.all_tenants` claim: an admin without X-Tenant-ID. */
  allTenants: boolean;
  /** Run in a READ ONLY transaction (read scope, or a GET). */
  readOnly: boolean;
  /** The `request.user_id` claim: the user's id, '' for an API key. */
  userId: string;
  /** The `request.jwt.claims` claim, JSON text: what `auth.jwt()` returns. */
  claims: string;
}

/**
 * The claims a request's policies can read through `auth.jwt()`: the token's for a user (`sub`,
 * `email`, `role`, `tenant_id`, `scopes`, `session_id`), the key's for an API key (`key_id` instead
 * of `sub`); `tenant_id` is the tenant the request runs in.
 */
function claimsOf(principal: Pick<Principal, "kind" | "id" | "email" | "role" | "scopes" | "sessionId">, tenantId: string): string {
  const common = { role: principal.role, tenant_id: tenantId, scopes: principal.scopes };
  return JSON.stringify(
    principal.kind === "user"
      ? { sub: principal.id, email: principal.email, ...common, session_id: principal.sessionId }
      : { key_id: principal.id, ...common },
  );
}

/**
 * Decides a request's {@link RequestAccess}. Admins run as `helios_admin` and see every tenant, or
 * only `tenantOverride` (X-Tenant-ID); everyone else runs as `helios_user` confined to their own
 * tenant; any X-Tenant-ID from a non-admin fails with `cross_tenant_forbidden`.
 */
export function resolveAccess(
  principal: Pick<Principal, "kind" | "id" | "email" | "role" | "scopes" | "tenantId" | "sessionId">,
  options: { tenantOverride?: string; readOnly?: boolean } = {},
): RequestAccess {
  const { tenantOverride } = options;
  const held = strongestScope(principal.scopes);
  const admin = held === "admin";
  if (tenantOverride !== undefined) {
    if (tenantOverride.trim() === "") throw apiError("validation_failed", "X-Tenant-ID must not be empty");
    if (!admin) throw apiError("cross_tenant_forbidden");
  }
  const tenantId = tenantOverride ?? principal.tenantId;
  return {
    role: admin ? queryRoles.admin : queryRoles.user,
    tenantId,
    // An unscoped admin sees every tenant; its inserts still default to its own tenant.
    allTenants: admin && tenantOverride === undefined,
    readOnly: options.readOnly === true || held === "read",
    userId: principal.kind === "user" ? principal.id : "",
    claims: claimsOf(principal, tenantId),
  };
}

const set = (name: string, value: string) => `pg_catalog.set_config('${name}', ${value}, true)`;

/**
 * Output formats the result decoders rely on, the timeout, the claims, read-only mode and last the
 * role. Every setting is transaction-local, and set_config's EXECUTE privilege is checked for all
 * calls (as the authenticator) before any runs.
 */
function setupText(readOnly: boolean): string {
  return `SELECT ${[
    set("TimeZone", "'UTC'"),
    set("DateStyle", "'ISO, YMD'"),
    set("IntervalStyle", "'iso_8601'"),
    set("extra_float_digits", "'1'"),
    set("bytea_output", "'hex'"),
    set("statement_timeout", "$1"),
    set(claimSettings.tenantId, "$2"),
    set(claimSettings.allTenants, "$3"),
    set(claimSettings.userId, "$5"),
    set(claimSettings.jwtClaims, "$6"),
    ...(readOnly ? [set("transaction_read_only", "'on'")] : []),
    set("role", "$4"),
  ].join(", ")}`;
}

const statements = {
  readOnly: { name: "helios_setup_ro", text: setupText(true) },
  readWrite: { name: "helios_setup_rw", text: setupText(false) },
};

/**
 * The statement that opens a request's transaction: run it first, before the user's statement.
 * It is named, so a connection prepares it once.
 */
export function requestSetup(access: RequestAccess, statementTimeoutMs: number): PipelineStatement {
  return {
    ...(access.readOnly ? statements.readOnly : statements.readWrite),
    values: [
      String(Math.max(1, Math.round(statementTimeoutMs))),
      access.tenantId,
      access.allTenants ? "on" : "off",
      access.role,
      access.userId,
      access.claims,
    ],
  };
}
