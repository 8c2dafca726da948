import type { NodeServerResponse } from "./node-types.js";
import { sendJson } from "./http-response.js";
import type { Responder } from "./responder.js";

/** Answers whether the service can do its work right now. */
export type ReadinessProbe = () => Promise<{ ready: boolean; reason?: string }>;

/**
 * The responder of `GET /health` (the process is alive) and `GET /ready` (storage answers and the
 * server is not shutting down); undefined for other paths.
 */
export function healthResponder(path: string, res: NodeServerResponse, ready: ReadinessProbe): Responder | undefined {
  if (path === "/health") return () => sendJson(res, 200, { status: "ok" });
  if (path === "/ready") {
    return async () => {
      const state = await ready();
      if (state.ready) sendJson(res, 200, { status: "ready" });
      else sendJson(res, 503, { status: "unavailable", reason: state.reason ?? "not ready" });
    };
  }
  return undefined;
}
