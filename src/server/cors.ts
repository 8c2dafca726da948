import type { NodeServerRequest, NodeServerResponse } from "./node-types.js";

/** Which origins may call the API from a browser. */
export interface CorsOptions {
  /** `"*"` (any origin: the API authenticates with bearer tokens and keys, never cookies) or an allow-list of origins. */
  origins: "*" | readonly string[];
}

/**
 * Request headers browsers may send: the guide's credentials and tenant header, what Supabase's
 * auth-js adds, and the headers of the Connect and gRPC-Web protocols.
 */
export const corsAllowedHeaders: readonly string[] = [
  "authorization",
  "content-type",
  "x-api-key",
  "apikey",
  "x-client-info",
  "x-supabase-api-version",
  "x-tenant-id",
  "connect-protocol-version",
  "connect-timeout-ms",
  "x-grpc-web",
  "x-user-agent",
  "grpc-timeout",
];

/**
 * Response headers browser code may read: gRPC-Web status, rate-limit back-off, request ids, and the
 * API version Supabase's auth-js decodes error bodies by.
 */
export const corsExposedHeaders: readonly string[] = [
  "grpc-status",
  "grpc-message",
  "grpc-status-details-bin",
  "retry-after",
  "x-request-id",
  "x-supabase-api-version",
];

/** Methods the API's routes answer (AdminService uses PUT and DELETE too). */
export const corsAllowedMethods: readonly string[] = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/** How long browsers may cache a preflight answer, in seconds. */
const preflightMaxAgeSeconds = 7200;

/**
 * Applies CORS to one request: writes the `Access-Control-*` headers of an allowed origin onto the
 * response (whatever route answers it later), and answers a preflight (`OPTIONS` with
 * `Access-Control-Request-Method`) itself with 204. Returns true when the request was answered.
 */
export type CorsHandler = (req: NodeServerRequest, res: NodeServerResponse) => boolean;

/** Creates the {@link CorsHandler} for `options`. */
export function createCors(options: CorsOptions): CorsHandler {
  const allowed = options.origins === "*" ? undefined : new Set(options.origins);
  const allowHeaders = corsAllowedHeaders.join(", ");
  const exposeHeaders = corsExposedHeaders.join(", ");
  const allowMethods = corsAllowedMethods.join(", ");

  return (req, res) => {
    const origin = header(req, "origin");
    const preflight = req.method === "OPTIONS" && header(req, "access-control-request-method") !== undefined;
    if (allowed) res.setHeader("vary", "Origin");
    const permitted = origin !== undefined && (allowed === undefined || allowed.has(origin));
    if (permitted) res.setHeader("access-control-allow-origin", allowed ? origin : "*");
    if (!preflight) {
      if (permitted) res.setHeader("access-control-expose-headers", exposeHeaders);
      return false;
    }
    if (permitted) {
      res.setHeader("access-control-allow-methods", allowMethods);
      res.setHeader("access-control-allow-headers", allowHeaders);
      res.setHeader("access-control-max-age", String(preflightMaxAgeSeconds));
    }
    // A refused origin gets no Access-Control-* headers, so the browser stops at the preflight.
    res.writeHead(204);
    res.end();
    return true;
  };
}

function header(req: NodeServerRequest, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === "string" ? value : undefined;
}
