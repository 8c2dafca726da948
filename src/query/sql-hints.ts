/**
 * Hints in PostgreSQL's style (the HINT of an error: what to try next) for the statement errors that
 * people meet first here and for which the server gives none, by SQLSTATE.
 */
const hints: Readonly<Record<string, string>> = {
  "42P01":
    "No table or view of that name is visible to you. Tables are created with CREATE TABLE (admin scope), " +
    "and tables with a tenant_id column show only your tenant's rows; list the visible ones with " +
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'. " +
    "Accounts are not a table: GET /auth/v1/user describes yours.",
};

/** Our hint for a statement error of SQLSTATE `code` that came without one, if we have one. */
export function serviceHint(code: string): string | undefined {
  return hints[code];
}
