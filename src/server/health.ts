import type { NodeServerResponse } from "./node-types.js";
import { sendJson } from "./http-response.js";

/** Answers whether the service can do its work right now. */
export type ReadinessProbe = () => Promise<{ ready: boolean; reason?: string }>;

/**
 * Serves `GET /health` (the process is alive) and `GET /ready` (storage answers and the server is
 * not shutting down). Resolves false for other paths.
 */
export async function handleHealth(path: string, res: NodeServerResponse, ready: ReadinessProbe): Promise<boolean> {
  if (path === "/health") {
    sendJson(res, 200, { status: "ok" });
    return true;
  }
  if (path === "/ready") {
    const state = await ready();
    if (state.ready) sendJson(res, 200, { status: "ready" });
    else sendJson(res, 503, { status: "unavailable", reason: state.reason ?? "not ready" });
    return true;
  }
  return false;
}
