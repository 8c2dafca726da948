/**
 * The database roles of QueryService. Roles are cluster-wide: every database (and every test
 * database) on one PostgreSQL cluster shares them, so all service instances on a cluster must agree
 * on the authenticator password.
 */
export const queryRoles = {
  /** LOGIN, NOINHERIT, no privileges of its own: the query pool's login; can only switch roles. */
  authenticator: "helios_authenticator",
  /** NOLOGIN: what read and write principals run as. */
  user: "helios_user",
  /** NOLOGIN: what admin principals run as; DDL in `public`, every tenant unless scoped. */
  admin: "helios_admin",
} as const;

/** One of the {@link queryRoles} a request can run as. */
export type RequestRole = typeof queryRoles.user | typeof queryRoles.admin;
