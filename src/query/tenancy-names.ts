/** Names shared by the tenancy functions, the executor and the statement guard. */

/** Schema holding the tenancy functions; user roles cannot see into it. */
export const internalSchema = "helios_internal";

/** Name of the event trigger that secures tables as they are created or altered. */
export const tenancyEventTrigger = "helios_tenancy";

/** The policy every tenant-scoped table gets: rows of the request's tenant only. */
export const tenantPolicy = "helios_tenant";

/** The policy letting an unscoped admin request see and write every tenant's rows. */
export const allTenantsPolicy = "helios_all_tenants";

/**
 * The restrictive policy of an owned table: a user's statements reach only the user's rows. Named to
 * sort before every admin policy (see {@link gatePolicy}).
 */
export const ownerPolicy = "0helios_owner";

/**
 * The restrictive tenant check a tenant or owned table gets while it has admin policies. PostgreSQL
 * evaluates restrictive policies before permissive ones, in name order, each on the rows the
 * previous ones let through; names starting with a digit sort before every admin policy name (which
 * must start with a letter), so an admin's expression never runs on, and never fails on and quotes,
 * another tenant's row.
 */
export const gatePolicy = "0helios_gate";

/** The permissive policy of an owned table without `tenant_id`: the user's own rows. */
export const ownerRowsPolicy = "helios_owner_rows";

/** The policies of a shared table: every request reads it, admins write it. */
export const sharedPolicies = { read: "helios_shared_read", write: "helios_shared_write" } as const;

/** Prefix of the service's own policy names (besides the `0helios_` ones); admins may not use it. */
export const servicePolicyPrefix = "helios_";

/** Matches every policy name of the service's own, as a PostgreSQL regular expression. */
export const servicePolicyPattern = "^0?helios_";

/** Settings the executor sets per transaction and the policies read. */
export const claimSettings = {
  /** The tenant a request is confined to ('' when none). */
  tenantId: "request.tenant_id",
  /** 'on' when an admin runs without X-Tenant-ID, 'off' otherwise. */
  allTenants: "request.all_tenants",
  /** The user a request runs for ('' for an API key). */
  userId: "request.user_id",
  /** The request's claims as JSON text (what `auth.jwt()` returns; PostgREST's name). */
  jwtClaims: "request.jwt.claims",
} as const;

/**
 * SQLSTATEs of the notices the tenancy functions raise; the executor hands them on in the answer.
 * Class 01 (warning) with an implementation-defined subclass.
 */
export const tenancyNoticeCodes = {
  /** A table became a tenant, owned or shared table (NOTICE). */
  tableKind: "01Z00",
  /** A unique index, primary key or foreign key of a tenant table lacks tenant_id (WARNING). */
  keyWithoutTenant: "01Z01",
} as const;

/** SQLSTATE of the refusal of such a key under strict tenancy. */
export const keyWithoutTenantRefusal = "Z1T01";

