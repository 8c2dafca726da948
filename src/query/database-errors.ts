import type { ConnectError } from "@connectrpc/connect";
import { apiError } from "../errors/catalogue.js";
import { keyWithoutTenantRefusal } from "./tenancy-names.js";
import { PipelineError, PipelineTimeout, type PipelineStage } from "./statement-pipeline.js";

/** The fields of a PostgreSQL ErrorResponse that we read (node-postgres' DatabaseError). */
interface ServerError {
  code: string;
  message: string;
  position?: string;
}

/** Whether `error` came from the server (has a SQLSTATE), as opposed to the socket or the driver. */
export function isServerError(error: unknown): error is ServerError {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code);
}

/** SQLSTATEs meaning the database, not the statement, is the problem. */
function isUnavailable(code: string): boolean {
  return (
    code.startsWith("08") || // connection exception
    code.startsWith("28") || // invalid authorization (the authenticator's password)
    code.startsWith("57P") || // admin shutdown, crash shutdown, cannot connect now, database dropped
    code === "53300" || // too many connections
    code === "3D000" // database does not exist
  );
}

/** A mapped error plus whether it deserves an operator's attention (it is never sent). */
export interface MappedError {
  error: ConnectError;
  /** Set when the failure is ours or the database's rather than the caller's; log it. */
  internal?: { stage: PipelineStage | "connect"; code: string | undefined; message: string };
}

/**
 * Maps a failure of the database path to the catalogue. For the user's statement: 57014
 * (statement_timeout) → `query_timeout`; other server errors → `sql_error` carrying the SQLSTATE
 * (`sqlstate`) and, when given, the 1-based `position` in ErrorInfo metadata, with the server's
 * message only (no DETAIL, HINT, CONTEXT or internal query: DETAIL can quote another tenant's key,
 * as in a unique violation). Connection-level failures → `storage_unavailable`. Failures of the
 * server's own statements (setup, tenancy sync) → `internal_error`, except the strict-tenancy refusal
 * of a key without `tenant_id` → `statement_not_allowed`.
 */
export function mapDatabaseError(failure: unknown): MappedError {
  if (failure instanceof PipelineTimeout) {
    return {
      error: apiError("storage_unavailable", "The database did not answer in time"),
      internal: { stage: "statement", code: undefined, message: failure.message },
    };
  }
  const stage: PipelineStage | "connect" = failure instanceof PipelineError ? failure.stage : "connect";
  const cause = failure instanceof PipelineError ? failure.cause : failure;
  if (!isServerError(cause)) {
    const message = cause instanceof Error ? cause.message : String(cause);
    return { error: apiError("storage_unavailable"), internal: { stage, code: undefined, message } };
  }
  if (isUnavailable(cause.code)) {
    return { error: apiError("storage_unavailable"), internal: { stage, code: cause.code, message: cause.message } };
  }
  if (cause.code === "57014") {
    return { error: apiError("query_timeout", undefined, { metadata: { sqlstate: cause.code } }) };
  }
  if (cause.code === keyWithoutTenantRefusal) {
    return { error: apiError("statement_not_allowed", `${cause.message} (refused under --strict-tenancy)`) };
  }
  if (stage !== "statement" || cause.code.startsWith("XX")) {
    return { error: apiError("internal_error"), internal: { stage, code: cause.code, message: cause.message } };
  }
  const metadata: Record<string, string> = { sqlstate: cause.code };
  if (cause.position) metadata.position = cause.position;
  return { error: apiError("sql_error", cause.message, { metadata }) };
}
