import { isSqlState, sqlStateMeaning } from "./sql-states.js";

/**
 * Socket-level failures: the database could not be reached, or the connection to it broke. A
 * request that meets one of these failed because of the infrastructure, not because of its input.
 */
const networkErrorCodes: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

// What node-postgres, its pool and knex say when a connection is gone or cannot be had; they carry no
// code. knex reports "Transaction query already complete" when the ROLLBACK after a failed statement
// fails too, which (our code never reusing a finished transaction) means the connection died under it.
const connectionLossMessage =
  /Connection terminated|connection error and is not queryable|timeout exceeded when trying to connect|Timeout acquiring a connection|Connection ended|Transaction query already complete/i;

const maxDepth = 5;

/**
 * Whether `error` (or an error it wraps, through `cause` or an AggregateError's `errors`) says that
 * the database is unreachable or its connection broke, as opposed to a statement failing. Such
 * failures are retryable and are answered with `storage_unavailable` (503), never with a 4xx that
 * would make a client sign its user out.
 */
export function isStorageUnavailableError(error: unknown, depth = 0): boolean {
  if (depth > maxDepth || typeof error !== "object" || error === null) return false;
  const { code, name, message, cause, errors } = error as {
    code?: unknown;
    name?: unknown;
    message?: unknown;
    cause?: unknown;
    errors?: unknown;
  };
  if (typeof code === "string") {
    if (networkErrorCodes.has(code)) return true;
    if (isSqlState(code)) return sqlStateMeaning(code) === "unavailable";
  }
  if (name === "KnexTimeoutError" || name === "ConnectionException") return true;
  if (typeof message === "string" && connectionLossMessage.test(message)) return true;
  if (Array.isArray(errors) && errors.some((inner) => isStorageUnavailableError(inner, depth + 1))) return true;
  return isStorageUnavailableError(cause, depth + 1);
}
