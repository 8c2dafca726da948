import { Code, ConnectError } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";

/** How one failure looks on every protocol: its gRPC/Connect code, its REST status and default text. */
export interface CatalogueEntry {
  code: Code;
  status: number;
  message: string;
}

/**
 * The one catalogue of failures. The key is the reason: REST clients read it as `error`, RPC clients
 * as the `reason` of a `google.rpc.ErrorInfo` detail. Messages of the guide are kept verbatim.
 */
export const catalogue = {
  // Credentials
  unauthorized: { code: Code.Unauthenticated, status: 401, message: "Missing authorization header" },
  invalid_token: { code: Code.Unauthenticated, status: 401, message: "Token is invalid" },
  token_expired: { code: Code.Unauthenticated, status: 401, message: "Token has expired" },
  session_revoked: { code: Code.Unauthenticated, status: 401, message: "Session has been revoked" },
  invalid_api_key: { code: Code.Unauthenticated, status: 401, message: "API key is invalid, expired or revoked" },
  ambiguous_credentials: {
    code: Code.InvalidArgument,
    status: 400,
    message: "Credentials of different principals were presented",
  },
  invalid_credentials: { code: Code.Unauthenticated, status: 400, message: "Invalid login credentials" },
  invalid_refresh_token: { code: Code.Unauthenticated, status: 401, message: "Refresh token is invalid or expired" },
  refresh_token_reused: {
    code: Code.Unauthenticated,
    status: 401,
    message: "Refresh token was already used; the session has been revoked",
  },
  user_banned: { code: Code.PermissionDenied, status: 403, message: "User is banned" },

  // Request shape
  validation_failed: { code: Code.InvalidArgument, status: 400, message: "Request is invalid" },
  bad_json: { code: Code.InvalidArgument, status: 400, message: "Request body is not valid JSON" },
  unsupported_media_type: {
    code: Code.InvalidArgument,
    status: 415,
    message: "Content-Type must be application/json",
  },
  payload_too_large: { code: Code.ResourceExhausted, status: 413, message: "Request body is too large" },
  unsupported_grant_type: { code: Code.InvalidArgument, status: 400, message: "Unsupported grant_type" },
  not_found: { code: Code.NotFound, status: 404, message: "No such route" },
  method_not_allowed: { code: Code.Unimplemented, status: 405, message: "Method not allowed on this route" },
  not_implemented: { code: Code.Unimplemented, status: 501, message: "Not implemented" },

  // Accounts
  user_already_exists: { code: Code.AlreadyExists, status: 409, message: "User already registered" },
  weak_password: { code: Code.InvalidArgument, status: 422, message: "Password is too weak" },
  signup_disabled: { code: Code.FailedPrecondition, status: 422, message: "Sign-ups are disabled" },
  user_not_found: { code: Code.NotFound, status: 404, message: "User not found" },
  tenant_not_found: { code: Code.NotFound, status: 404, message: "Tenant not found" },
  tenant_already_exists: { code: Code.AlreadyExists, status: 409, message: "Tenant already exists" },
  api_key_not_found: { code: Code.NotFound, status: 404, message: "API key not found" },
  over_request_rate_limit: { code: Code.ResourceExhausted, status: 429, message: "Too many requests" },
  current_password_required: {
    code: Code.InvalidArgument,
    status: 400,
    message: "current_password is required to set a new password this long after signing in",
  },
  current_password_mismatch: { code: Code.InvalidArgument, status: 400, message: "Current password is incorrect" },
  session_not_found: { code: Code.NotFound, status: 404, message: "Session not found" },

  // Authorization
  insufficient_scope: { code: Code.PermissionDenied, status: 403, message: "Token scopes do not allow this" },
  cross_tenant_forbidden: {
    code: Code.PermissionDenied,
    status: 403,
    message: "Only admins may address another tenant",
  },

  // Queries
  statement_not_allowed: { code: Code.PermissionDenied, status: 403, message: "Statement is not allowed" },
  sql_error: { code: Code.InvalidArgument, status: 400, message: "SQL error" },
  sql_too_large: { code: Code.ResourceExhausted, status: 413, message: "SQL text is too large" },
  query_timeout: { code: Code.DeadlineExceeded, status: 408, message: "Query exceeded the statement timeout" },
  too_many_queries: {
    code: Code.ResourceExhausted,
    status: 429,
    message: "Too many concurrent queries for this tenant",
  },
  result_too_large: { code: Code.ResourceExhausted, status: 413, message: "Query result is too large" },
  parameter_count_mismatch: {
    code: Code.InvalidArgument,
    status: 400,
    message: "The number of params does not match the statement's $n placeholders",
  },
  transaction_conflict: {
    code: Code.Aborted,
    status: 409,
    message: "The statement conflicted with a concurrent transaction; retry it",
  },

  // REST data API (/rest/v1): answered in PostgREST's shape with the code in rest-errors.ts
  rest_bad_query: { code: Code.InvalidArgument, status: 400, message: "Could not parse the query string" },
  rest_bad_body: { code: Code.InvalidArgument, status: 400, message: "Request body is not valid for this resource" },
  rest_bad_range: { code: Code.OutOfRange, status: 416, message: "Requested range not satisfiable" },
  rest_bad_schema: { code: Code.InvalidArgument, status: 406, message: "The schema must be one of the following: public" },
  rest_not_acceptable: { code: Code.InvalidArgument, status: 406, message: "None of these media types are available" },
  rest_not_one_row: {
    code: Code.FailedPrecondition,
    status: 406,
    message: "JSON object requested, multiple (or no) rows returned",
  },
  rest_unknown_relationship: { code: Code.InvalidArgument, status: 400, message: "Could not find a relationship in the schema cache" },
  rest_ambiguous_relationship: { code: Code.InvalidArgument, status: 300, message: "Could not embed because more than one relationship was found" },
  rest_function_not_found: { code: Code.NotFound, status: 404, message: "Could not find the function in the schema cache" },
  rest_unknown_column: { code: Code.InvalidArgument, status: 400, message: "Could not find the column in the schema cache" },
  rest_unknown_table: { code: Code.NotFound, status: 404, message: "Could not find the table in the schema cache" },
  rest_limit_exceeded: { code: Code.ResourceExhausted, status: 400, message: "The request exceeds a /rest limit" },
  // Schema
  schema_invalid_samples: { code: Code.InvalidArgument, status: 400, message: "Samples must be a non-empty list of JSON objects" },
  schema_input_too_large: { code: Code.ResourceExhausted, status: 413, message: "Too many samples or sample bytes" },
  schema_invalid_identifier: { code: Code.InvalidArgument, status: 400, message: "A key or name is not a usable identifier" },
  schema_duplicate_identifier: {
    code: Code.InvalidArgument,
    status: 400,
    message: "Two keys or names become the same identifier",
  },
  schema_invalid_file: { code: Code.InvalidArgument, status: 400, message: "The CSV or NDJSON document cannot be read" },
  schema_table_not_found: { code: Code.NotFound, status: 404, message: "No such table, or not readable by this role" },

  // Server
  storage_unavailable: { code: Code.Unavailable, status: 503, message: "Storage is unavailable" },
  internal_error: { code: Code.Internal, status: 500, message: "Internal server error" },
  server_busy: { code: Code.Unavailable, status: 503, message: "The server is busy; retry shortly" },
} as const satisfies Record<string, CatalogueEntry>;

/** A failure reason: a key of the {@link catalogue}. */
export type Reason = keyof typeof catalogue;

/** The `domain` of every ErrorInfo we send. */
export const errorDomain = "heliosdb.nano";

/** Extra detail of an {@link apiError}. */
export interface ApiErrorOptions {
  /** Key/values for ErrorInfo.metadata (strings only; never secrets). */
  metadata?: Record<string, string>;
  /** Response headers (and gRPC trailers), such as Retry-After. */
  headers?: Record<string, string>;
  /** Underlying error, kept for logs, never sent. */
  cause?: unknown;
}

/**
 * Creates the error for `reason`: its catalogue code, the message (default: the catalogue text) and
 * a `google.rpc.ErrorInfo` detail carrying the reason.
 */
export function apiError(reason: Reason, message?: string, options: ApiErrorOptions = {}): ConnectError {
  const entry: CatalogueEntry = catalogue[reason];
  const info = create(ErrorInfoSchema, { reason, domain: errorDomain, metadata: options.metadata ?? {} });
  return new ConnectError(
    message ?? entry.message,
    entry.code,
    options.headers ? new Headers(options.headers) : undefined,
    [{ desc: ErrorInfoSchema, value: info }],
    options.cause,
  );
}

/** Reason used when an error carries no ErrorInfo (errors raised by the protocol layer itself). */
const reasonByCode: Partial<Record<Code, Reason>> = {
  [Code.InvalidArgument]: "validation_failed",
  [Code.Unauthenticated]: "unauthorized",
  [Code.PermissionDenied]: "insufficient_scope",
  [Code.NotFound]: "not_found",
  [Code.ResourceExhausted]: "payload_too_large",
  [Code.Unimplemented]: "not_implemented",
  [Code.DeadlineExceeded]: "query_timeout",
  [Code.Unavailable]: "storage_unavailable",
};

/** Whether `value` names a catalogue entry. */
export function isReason(value: string): value is Reason {
  return Object.hasOwn(catalogue, value);
}

/** The catalogue reason of an error: its ErrorInfo reason, or the default for its code. */
export function reasonOf(error: ConnectError): Reason {
  const info = error.findDetails(ErrorInfoSchema).find((d) => d.domain === errorDomain);
  if (info && isReason(info.reason)) return info.reason;
  return reasonByCode[error.code] ?? "internal_error";
}

/** The REST body of an error: the guide's `{"error", "message"}`. */
export interface RestErrorBody {
  error: Reason;
  message: string;
  [key: string]: unknown;
}
