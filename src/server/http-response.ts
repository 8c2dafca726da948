import type { NodeServerResponse } from "./node-types.js";
import { catalogue, type Reason, type RestErrorBody } from "../errors/catalogue.js";

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

/** Writes the REST error body of `reason`: `{"error": reason, "message": text}` with its status. */
export function sendError(
  res: NodeServerResponse,
  reason: Reason,
  message?: string,
  options: { headers?: Record<string, string>; extra?: Record<string, unknown> } = {},
): void {
  const entry = catalogue[reason];
  const body: RestErrorBody = { error: reason, message: message ?? entry.message, ...options.extra };
  sendJson(res, entry.status, body, options.headers);
}
