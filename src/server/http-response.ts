import type { NodeServerResponse } from "./node-types.js";
import { catalogue, type Reason, type RestErrorBody } from "../errors/catalogue.js";
import { supabaseErrorFields } from "./supabase-compat.js";

/** Writes `body` as a JSON response. */
export function sendJson(
  res: NodeServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  // As bytes: encoded once, and its length is known without a second pass over the text; a string
  // body would also be joined to the header text before encoding (node:http), a copy per answer.
  const bytes = Buffer.from(JSON.stringify(body));
  res.writeHead(status, {
    ...headers,
    "content-type": "application/json; charset=utf-8",
    "content-length": String(bytes.byteLength),
  });
  res.end(bytes);
}

/**
 * Writes the REST error body of `reason`: `{"error": reason, "message": text}` with its status (plus
 * GoTrue's `code` for Supabase clients that negotiated an API version).
 */
export function sendError(
  res: NodeServerResponse,
  reason: Reason,
  message?: string,
  options: { headers?: Record<string, string>; extra?: Record<string, unknown> } = {},
): void {
  const entry = catalogue[reason];
  const body: RestErrorBody = {
    error: reason,
    message: message ?? entry.message,
    ...options.extra,
    ...supabaseErrorFields(res, reason),
  };
  sendJson(res, entry.status, body, options.headers);
}
