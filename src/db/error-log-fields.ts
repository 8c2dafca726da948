import { isSqlState } from "./sql-states.js";

/**
 * What may be logged of a database failure. Never its message: MikroORM sends statements with their
 * values inlined and puts the statement into its errors' messages, and PostgreSQL's own messages
 * quote input ("invalid input syntax for type uuid: …"), so a message can carry emails, hashes or
 * another tenant's data.
 */
export interface StorageErrorFields {
  /** The SQLSTATE, when the server answered with an error. */
  sqlstate?: string;
  /** The socket error code (ECONNREFUSED, ETIMEDOUT, …), when the connection failed. */
  errno?: string;
  /** The class of the outermost error, such as "UniqueConstraintViolationException". */
  errorClass: string;
}

const maxDepth = 5;

/** The SQLSTATE carried by `error` or an error it wraps (`cause`, an AggregateError's `errors`), if any. */
export function sqlStateOf(error: unknown, depth = 0): string | undefined {
  if (depth > maxDepth || typeof error !== "object" || error === null) return undefined;
  const { code, cause, errors } = error as { code?: unknown; cause?: unknown; errors?: unknown };
  if (isSqlState(code)) return code;
  if (Array.isArray(errors)) {
    for (const inner of errors) {
      const found = sqlStateOf(inner, depth + 1);
      if (found) return found;
    }
  }
  return sqlStateOf(cause, depth + 1);
}

function errnoOf(error: unknown, depth = 0): string | undefined {
  if (depth > maxDepth || typeof error !== "object" || error === null) return undefined;
  const { code, cause, errors } = error as { code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof code === "string" && /^E[A-Z_]+$/.test(code)) return code;
  if (Array.isArray(errors)) {
    for (const inner of errors) {
      const found = errnoOf(inner, depth + 1);
      if (found) return found;
    }
  }
  return errnoOf(cause, depth + 1);
}

/** The loggable {@link StorageErrorFields} of `error`. */
export function storageErrorFields(error: unknown): StorageErrorFields {
  const fields: StorageErrorFields = {
    errorClass: error instanceof Error ? error.constructor.name : typeof error,
  };
  const sqlstate = sqlStateOf(error);
  if (sqlstate) fields.sqlstate = sqlstate;
  const errno = errnoOf(error);
  if (errno) fields.errno = errno;
  return fields;
}
