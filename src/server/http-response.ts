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
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    "content-type": "application/json; charset=utf-8",
    "content-length": String(Buffer.byteLength(text)),
  });
  res.end(text);
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
