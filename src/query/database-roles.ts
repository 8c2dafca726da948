import { setTimeout as sleep } from "node:timers/promises";
import { escapeLiteral, type ClientBase } from "pg";
import type { Logger } from "../logging/logger.js";
import { queryRoles } from "./query-roles.js";
import { scramSha256Verifier, scramVerifierMatches } from "./scram-verifier.js";
import { installTenancy, type TenancyReport } from "./tenancy.js";

/** Options of {@link setupDatabaseRoles}. */
export interface DatabaseRolesOptions {
  /**
   * Password of `helios_authenticator`, printable ASCII. Derive it deterministically from a server
   * secret (for example an HMAC of the JWT secret): every instance sharing the cluster must agree.
   * It is sent to PostgreSQL only as a SCRAM-SHA-256 verifier, and only when it changed.
   */
  authenticatorPassword: string;
  logger?: Pick<Logger, "info" | "warn">;
}

/** What {@link setupDatabaseRoles} set up. */
export type DatabaseRolesReport = TenancyReport;

interface RoleSpec {
  name: string;
  login: boolean;
  inherit: boolean;
}

const roleSpecs: RoleSpec[] = [
  { name: queryRoles.authenticator, login: true, inherit: false },
  { name: queryRoles.user, login: false, inherit: true },
  { name: queryRoles.admin, login: false, inherit: true },
];

interface RoleRow {
  rolname: string;
  rolcanlogin: boolean;
  rolinherit: boolean;
  rolsuper: boolean;
  rolcreaterole: boolean;
  rolcreatedb: boolean;
  rolreplication: boolean;
  rolbypassrls: boolean;
}

function attributes(spec: RoleSpec): string {
  return [
    spec.login ? "LOGIN" : "NOLOGIN",
    spec.inherit ? "INHERIT" : "NOINHERIT",
    "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS",
  ].join(" ");
}

function matches(row: RoleRow, spec: RoleSpec): boolean {
  return (
    row.rolcanlogin === spec.login &&
    row.rolinherit === spec.inherit &&
    !row.rolsuper &&
    !row.rolcreaterole &&
    !row.rolcreatedb &&
    !row.rolreplication &&
    !row.rolbypassrls
  );
}

/** Errors raised when another process changes the same cluster-wide role rows at the same time. */
function isConcurrentRoleChange(error: unknown): boolean {
  const { code, message } = error as { code?: string; message?: string };
  if (code === "42710" || code === "23505" || code === "40001" || code === "40P01") return true;
  return code === "XX000" && /concurrently/.test(message ?? "");
}

async function ensureRolesOnce(client: ClientBase, password: string): Promise<void> {
  const existing = await client.query<RoleRow>(
    `SELECT rolname, rolcanlogin, rolinherit, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls
       FROM pg_catalog.pg_roles WHERE rolname = ANY($1)`,
    [roleSpecs.map((spec) => spec.name)],
  );
  for (const spec of roleSpecs) {
    const row = existing.rows.find((r) => r.rolname === spec.name);
    // Only write when something differs: concurrent identical writes to pg_authid collide.
    if (!row) await client.query(`CREATE ROLE ${spec.name} WITH ${attributes(spec)}`);
    else if (!matches(row, spec)) await client.query(`ALTER ROLE ${spec.name} WITH ${attributes(spec)}`);
  }
  for (const member of [queryRoles.user, queryRoles.admin]) {
    const granted = await client.query(
      `SELECT 1 FROM pg_catalog.pg_auth_members m
         JOIN pg_catalog.pg_roles r ON r.oid = m.roleid
         JOIN pg_catalog.pg_roles u ON u.oid = m.member
        WHERE r.rolname = $1 AND u.rolname = $2`,
      [member, queryRoles.authenticator],
    );
    if (granted.rowCount === 0) await client.query(`GRANT ${member} TO ${queryRoles.authenticator}`);
  }
  let current: string | null = null;
  try {
    const stored = await client.query<{ rolpassword: string | null }>(
      "SELECT rolpassword FROM pg_catalog.pg_authid WHERE rolname = $1",
      [queryRoles.authenticator],
    );
    current = stored.rows[0]?.rolpassword ?? null;
  } catch (error) {
    // pg_authid is readable by superusers only; otherwise always set the password.
    if ((error as { code?: string }).code !== "42501") throw error;
  }
  if (current === null || !scramVerifierMatches(current, password)) {
    const verifier = scramSha256Verifier(password);
    await client.query(`ALTER ROLE ${queryRoles.authenticator} WITH PASSWORD ${escapeLiteral(verifier)}`);
  }
}

/** Creates or repairs the three cluster-wide roles, retrying when another process races on them. */
async function ensureRoles(client: ClientBase, password: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await ensureRolesOnce(client, password);
      return;
    } catch (error) {
      if (attempt >= 8 || !isConcurrentRoleChange(error)) throw error;
      await sleep(10 + Math.random() * 40 * attempt);
    }
  }
}

/** Session-level locks outlive the request on a pooled connection; transaction-level ones stay. */
const sessionLockFunctions = [
  "pg_advisory_lock(bigint)",
  "pg_advisory_lock(integer, integer)",
  "pg_advisory_lock_shared(bigint)",
  "pg_advisory_lock_shared(integer, integer)",
  "pg_try_advisory_lock(bigint)",
  "pg_try_advisory_lock(integer, integer)",
  "pg_try_advisory_lock_shared(bigint)",
  "pg_try_advisory_lock_shared(integer, integer)",
];

/** Large objects are not tenant-scoped: whatever one tenant stores, any other could read. */
const largeObjectFunctions = [
  "lo_create(oid)",
  "lo_creat(integer)",
  "lo_from_bytea(oid, bytea)",
  "lo_import(text)",
  "lo_import(text, oid)",
  "lo_put(oid, bigint, bytea)",
];

/** Requests cannot LISTEN, so notifications could only reach the service's own listeners. */
const notifyFunctions = ["pg_notify(text, text)"];

/**
 * What sequences hold, readable with the USAGE users need for `nextval`: a session's last values (on
 * a pooled connection, those another tenant's request drew there) and a sequence's last value (also
 * behind `pg_sequences`), which tells every tenant's volume. `pg_get_sequence_data` is PostgreSQL 18's.
 */
const sequenceStateFunctions = ["currval(regclass)", "lastval()", "pg_sequence_last_value(regclass)", "pg_get_sequence_data(regclass)"];

const { authenticator, user, admin } = queryRoles;

/** Per-database privileges; every statement is idempotent. */
const databaseStatements = [
  // Only admins create objects, and only in public.
  "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
  `GRANT USAGE ON SCHEMA public TO ${user}, ${admin}`,
  `GRANT CREATE ON SCHEMA public TO ${admin}`,
  `DO $do$ BEGIN
     IF EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = 'auth') THEN
       REVOKE ALL ON SCHEMA auth FROM PUBLIC, ${authenticator}, ${user}, ${admin};
     END IF;
   END $do$`,
  // Policies trust request.* settings: only the authenticator (before SET ROLE) may set them.
  "REVOKE EXECUTE ON FUNCTION pg_catalog.set_config(text, text, boolean) FROM PUBLIC",
  `GRANT EXECUTE ON FUNCTION pg_catalog.set_config(text, text, boolean) TO ${authenticator}, CURRENT_USER`,
  ...[...sessionLockFunctions, ...largeObjectFunctions, ...notifyFunctions].flatMap((fn) => [
    `REVOKE EXECUTE ON FUNCTION pg_catalog.${fn} FROM PUBLIC`,
    `GRANT EXECUTE ON FUNCTION pg_catalog.${fn} TO CURRENT_USER`,
  ]),
  // Each only where this PostgreSQL has it.
  `DO $do$ DECLARE fn text; BEGIN
     FOREACH fn IN ARRAY ARRAY[${sequenceStateFunctions.map((fn) => `'pg_catalog.${fn}'`).join(", ")}] LOOP
       IF pg_catalog.to_regprocedure(fn) IS NOT NULL THEN
         EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', fn);
         EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO CURRENT_USER', fn);
       END IF;
     END LOOP;
   END $do$`,
  // Existing objects, then objects created later by the owner or by helios_admin.
  `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${user}`,
  `GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES ON ALL TABLES IN SCHEMA public TO ${admin}`,
  // Sequences are shared by every tenant: users only draw values (nextval, as column defaults do).
  // UPDATE would let one tenant setval() another's inserts into failure; SELECT reads their volume.
  `REVOKE SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public FROM ${user}`,
  `GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ${user}`,
  `GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO ${admin}`,
  `ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${user}`,
  `ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES ON TABLES TO ${admin}`,
  `ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT, UPDATE ON SEQUENCES FROM ${user}`,
  `ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE ON SEQUENCES TO ${user}`,
  `ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO ${admin}`,
  `ALTER DEFAULT PRIVILEGES FOR ROLE ${admin} IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${user}`,
  `ALTER DEFAULT PRIVILEGES FOR ROLE ${admin} IN SCHEMA public REVOKE SELECT, UPDATE ON SEQUENCES FROM ${user}`,
  `ALTER DEFAULT PRIVILEGES FOR ROLE ${admin} IN SCHEMA public GRANT USAGE ON SEQUENCES TO ${user}`,
];

/** Serializes concurrent setups of one database (advisory locks are per database). */
const setupLockKey = 0x48454c49; // "HELI"

/**
 * Sets up QueryService's side of the database; run by the schema owner (a superuser here) at every
 * start. Idempotent and safe to run concurrently, also from several databases of one cluster.
 *
 * - Roles (cluster-wide): `helios_authenticator` (LOGIN, NOINHERIT, member of the two others, no
 *   privileges of its own), `helios_user` and `helios_admin` (NOLOGIN).
 * - This database: `public` usable by both, writable (DDL) by `helios_admin` only; `auth` not usable
 *   by any of them; `set_config` executable only by the authenticator (and the owner); session-level
 *   advisory locks, large-object creation, `pg_notify` and reading sequence state taken from PUBLIC;
 *   table and sequence privileges on existing and future objects of the owner and of `helios_admin`
 *   (`helios_user` gets USAGE only on sequences: `nextval`, no `setval` and no reading them).
 * - Tenancy: see {@link installTenancy}.
 */
export async function setupDatabaseRoles(
  client: ClientBase,
  options: DatabaseRolesOptions,
): Promise<DatabaseRolesReport> {
  await ensureRoles(client, options.authenticatorPassword);
  await client.query("BEGIN");
  try {
    await client.query("SELECT pg_catalog.pg_advisory_xact_lock($1)", [setupLockKey]);
    for (const statement of databaseStatements) await client.query(statement);
    const report = await installTenancy(client);
    await client.query("COMMIT");
    if (!report.eventTrigger) {
      options.logger?.warn("event triggers unavailable: tenancy is re-applied after each admin DDL instead");
    }
    return report;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
}
