import type { ConnectError } from "@connectrpc/connect";
import { apiError } from "../errors/catalogue.js";
import { storageErrorFields, type StorageErrorFields } from "../db/error-log-fields.js";
import { isSqlState, sqlStateMeaning } from "../db/sql-states.js";
import { keyWithoutTenantRefusal } from "./tenancy-names.js";
import { PipelineError, PipelineTimeout, ResultTooLarge, type PipelineStage } from "./statement-pipeline.js";
import { serviceHint } from "./sql-hints.js";

/** The fields of a PostgreSQL ErrorResponse that we read (node-postgres' DatabaseError). */
interface ServerError {
  code: string;
  message: string;
  position?: string;
  hint?: string;
}

/** Whether `error` came from the server (has a SQLSTATE), as opposed to the socket or the driver. */
export function isServerError(error: unknown): error is ServerError {
  return isSqlState((error as { code?: unknown } | null)?.code);
}

/** A mapped error plus whether it deserves an operator's attention (it is never sent). */
export interface MappedError {
  error: ConnectError;
  /** Set when the failure is ours or the database's rather than the caller's; log it. */
  internal?: { stage: PipelineStage | "connect"; fields: StorageErrorFields };
}

/**
 * Maps a failure of the database path to the catalogue by what its SQLSTATE means (see
 * `sql-states.ts`). For the user's statement: a timeout → `query_timeout`; an answer past
 * the byte cap → `result_too_large`; a lost race with another
 * transaction (serialization failure, deadlock, lock not available) → `transaction_conflict`
 * (retryable); other statement errors → `sql_error`. These carry the SQLSTATE (`sqlstate`), the
 * 1-based `position` and the server's HINT (`hint`, or one of ours for a missing table) in ErrorInfo
 * metadata, with the server's message only (no DETAIL, CONTEXT or internal query: DETAIL can quote
 * another tenant's key, as in a unique violation). Unavailability → `storage_unavailable`. Failures
 * of the server's own statements (setup, tenancy sync) and of the service or database itself →
 * `internal_error`, except the strict-tenancy refusal of a key without `tenant_id` →
 * `statement_not_allowed`. What deserves a log line is described by SQLSTATE and error class only: messages
 * can quote values.
 */
export function mapDatabaseError(failure: unknown): MappedError {
  if (failure instanceof ResultTooLarge) {
    return { error: apiError("result_too_large", `Result is larger than ${failure.maxBytes} bytes (--max-result-bytes)`) };
  }
  if (failure instanceof PipelineTimeout) {
    return {
      error: apiError("storage_unavailable", "The database did not answer in time"),
      internal: { stage: "statement", fields: storageErrorFields(failure) },
    };
  }
  const stage: PipelineStage | "connect" = failure instanceof PipelineError ? failure.stage : "connect";
  const cause = failure instanceof PipelineError ? failure.cause : failure;
  if (!isServerError(cause)) {
    return { error: apiError("storage_unavailable"), internal: { stage, fields: storageErrorFields(cause) } };
  }
  const meaning = sqlStateMeaning(cause.code);
  if (meaning === "unavailable") {
    return { error: apiError("storage_unavailable"), internal: { stage, fields: storageErrorFields(cause) } };
  }
  if (meaning === "timeout") {
    return { error: apiError("query_timeout", undefined, { metadata: { sqlstate: cause.code } }) };
  }
  if (cause.code === keyWithoutTenantRefusal) {
    return { error: apiError("statement_not_allowed", `${cause.message} (refused under --strict-tenancy)`) };
  }
  if (stage !== "statement" || meaning === "internal") {
    return { error: apiError("internal_error"), internal: { stage, fields: storageErrorFields(cause) } };
  }
  const metadata: Record<string, string> = { sqlstate: cause.code };
  if (cause.position) metadata.position = cause.position;
  const hint = cause.hint ?? serviceHint(cause.code);
  if (hint) metadata.hint = hint;
  return { error: apiError(meaning === "conflict" ? "transaction_conflict" : "sql_error", cause.message, { metadata }) };
}
