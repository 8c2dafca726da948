import type { ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { apiError, catalogue, errorDomain, reasonOf, type Reason } from "../errors/catalogue.js";

/** PostgREST's error body: `{"code", "message", "details", "hint"}`. */
export interface PostgrestErrorBody {
  code: string;
  message: string;
  details: string | null;
  hint: string | null;
}

/** The catalogue reasons of `/rest` failures and the PostgREST code each answers with. */
const postgrestCodes = {
  rest_bad_query: "PGRST100",
  rest_bad_body: "PGRST102",
  rest_bad_range: "PGRST103",
  rest_bad_schema: "PGRST106",
  rest_not_acceptable: "PGRST107",
  rest_not_one_row: "PGRST116",
  rest_unknown_relationship: "PGRST200",
  rest_ambiguous_relationship: "PGRST201",
  rest_function_not_found: "PGRST202",
  rest_unknown_column: "PGRST204",
  rest_unknown_table: "PGRST205",
  rest_limit_exceeded: "PGRST100",
} as const satisfies Partial<Record<Reason, string>>;

/** A reason whose failure `/rest` answers in PostgREST's shape. */
export type RestReason = keyof typeof postgrestCodes;

/** Extra fields of a {@link restError}. */
export interface RestErrorFields {
  details?: string;
  hint?: string;
  /** A SQLSTATE to answer instead of the reason's PGRST code (an unknown column is 42703, as PostgreSQL says). */
  code?: string;
  headers?: Record<string, string>;
}

/**
 * A `/rest` failure: a catalogue error (so it crosses the interceptors like every other), whose
 * ErrorInfo metadata carries PostgREST's `code`, `details` and `hint`.
 */
export function restError(reason: RestReason, message: string, fields: RestErrorFields = {}): ConnectError {
  const metadata: Record<string, string> = { code: fields.code ?? postgrestCodes[reason] };
  if (fields.details !== undefined) metadata.details = fields.details;
  if (fields.hint !== undefined) metadata.hint = fields.hint;
  return apiError(reason, message, { metadata, ...(fields.headers ? { headers: fields.headers } : {}) });
}

/** PostgreSQL error classes and codes → HTTP status, as PostgREST maps them (its errors page). */
function statusOfSqlState(code: string, authenticated: boolean): number {
  switch (code) {
    case "23503":
    case "23505":
      return 409;
    case "42P01":
    case "42883":
      return 404;
    case "42501":
      return authenticated ? 403 : 401;
    case "25006":
      return 405;
    case "P0001":
      return 400;
    case "53400":
      return 500;
    case "40001":
      return 409;
  }
  const byClass: Record<string, number> = { "08": 503, "09": 500, "0L": 403, "0P": 403, "23": 400, "25": 500, "28": 403, "2D": 500, "38": 500, "39": 500, "3B": 500, "40": 500, "53": 503, "54": 500, "55": 500, "57": 500, "58": 500, F0: 500, HV: 500, P0: 500, XX: 500 };
  return byClass[code.slice(0, 2)] ?? 400;
}

/** How a failure of a `/rest` request is answered: PostgREST's body, or the guide's for credentials and limits. */
export type RestFailureAnswer =
  | { shape: "postgrest"; status: number; body: PostgrestErrorBody; reason: Reason }
  | { shape: "catalogue"; reason: Reason; message: string };

/**
 * Decides the answer to a failed `/rest` request. `/rest` failures and SQL errors answer in
 * PostgREST's shape (a SQL error keeps its SQLSTATE as `code`; the database's DETAIL is never
 * sent, as it can quote another tenant's key); everything else (credentials, scopes, timeouts,
 * concurrency, storage) keeps the catalogue's `{"error", "message"}` like every other route.
 */
export function restFailureAnswer(error: ConnectError): RestFailureAnswer {
  const reason = reasonOf(error);
  const info = error.findDetails(ErrorInfoSchema).find((detail) => detail.domain === errorDomain);
  const metadata = info?.metadata ?? {};
  if (reason === "sql_error") {
    const code = metadata.sqlstate ?? "42000";
    return {
      shape: "postgrest",
      status: statusOfSqlState(code, true),
      body: { code, message: error.rawMessage, details: null, hint: null },
      reason,
    };
  }
  if (Object.hasOwn(postgrestCodes, reason)) {
    return {
      shape: "postgrest",
      status: catalogue[reason].status,
      body: {
        code: metadata.code ?? postgrestCodes[reason as RestReason],
        message: error.rawMessage,
        details: metadata.details ?? null,
        hint: metadata.hint ?? null,
      },
      reason,
    };
  }
  return { shape: "catalogue", reason, message: error.rawMessage };
}
