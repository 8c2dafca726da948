/**
 * What a PostgreSQL error code (SQLSTATE) says went wrong, as far as the answer is concerned:
 *
 * - `unavailable`: the database cannot be reached or used now, whatever the request (503, retryable);
 * - `timeout`: the statement ran past `statement_timeout`;
 * - `conflict`: the statement lost to a concurrent transaction and may succeed if retried;
 * - `internal`: the service or the database itself is at fault, not the request (500, logged);
 * - `statement`: the request's statement or its values are at fault (400).
 */
export type SqlStateMeaning = "unavailable" | "timeout" | "conflict" | "internal" | "statement";

/**
 * Exact SQLSTATEs whose meaning differs from their class's
 * (https://www.postgresql.org/docs/current/errcodes-appendix.html).
 */
const byCode: Readonly<Record<string, SqlStateMeaning>> = {
  // Class 08 is connection loss, except a protocol violation: the client sent a malformed message
  // (such as a bind with the wrong number of parameters), which no retry fixes.
  "08P01": "internal",
  "3D000": "unavailable", // the configured database does not exist
  "40001": "conflict", // serialization_failure
  "40P01": "conflict", // deadlock_detected
  "40003": "unavailable", // statement_completion_unknown: the connection died around COMMIT
  "53000": "unavailable", // insufficient_resources
  "53100": "unavailable", // disk_full
  "53200": "unavailable", // out_of_memory
  "53300": "unavailable", // too_many_connections
  // 53400 configuration_limit_exceeded stays with the statement (it asked for more than allowed).
  "55P03": "conflict", // lock_not_available: a row or table another transaction holds
  "57014": "timeout", // query_canceled (statement_timeout)
  "72000": "conflict", // snapshot_too_old
};

/** Meanings of whole classes (the first two characters). */
const byClass: Readonly<Record<string, SqlStateMeaning>> = {
  "08": "unavailable", // connection exception
  "28": "unavailable", // invalid authorization: the service's own credentials were refused
  "58": "internal", // system error (I/O, missing files)
  F0: "internal", // configuration file error
  XX: "internal", // internal error (data corruption, assertion failures)
};

/**
 * The meaning of `code`. Admin shutdown, crash shutdown, "cannot connect now", a dropped database and
 * idle-session timeouts (57P01 to 57P05) are unavailability; every other code is the statement's.
 */
export function sqlStateMeaning(code: string): SqlStateMeaning {
  const exact = byCode[code];
  if (exact) return exact;
  if (code.startsWith("57P")) return "unavailable";
  return byClass[code.slice(0, 2)] ?? "statement";
}

/** Whether `code` has the shape of a SQLSTATE (five digits or upper-case letters). */
export function isSqlState(code: unknown): code is string {
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code);
}
