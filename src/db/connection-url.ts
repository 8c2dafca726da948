/**
 * Describes a PostgreSQL connection URL for logs and error messages: `user@host:port/database`,
 * never the password or query parameters.
 */
export function describeDatabaseUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "(unparseable database URL)";
  }
  const user = parsed.username ? `${decodeURIComponent(parsed.username)}@` : "";
  const port = parsed.port || "5432";
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, "")) || "(default database)";
  return `${user}${parsed.hostname}:${port}/${database}`;
}

/**
 * Checks that `url` is a `postgres://` or `postgresql://` URL and returns it parsed.
 *
 * @throws Error naming the problem without echoing the URL (it may hold a password).
 */
export function parseDatabaseUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error("database URL is not a valid URL (expected postgres://user:password@host:port/database)");
  }
  if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:") {
    throw new Error(`database URL must start with postgres:// or postgresql://, not ${parsed.protocol}//`);
  }
  if (!parsed.pathname.replace(/^\//, "")) {
    throw new Error(`database URL ${describeDatabaseUrl(url)} names no database (add /<database> after the host)`);
  }
  return parsed;
}
