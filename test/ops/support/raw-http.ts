import { request } from "node:http";

/** The outcome of one request sent on a connection of its own. */
export type RawOutcome =
  | { kind: "response"; status: number; body: string; ms: number }
  | { kind: "error"; code: string; ms: number };

/**
 * Sends one request on a fresh connection (no keep-alive, so no request can be lost to a race with
 * the server closing an idle connection) and reports a connection-level failure instead of throwing.
 */
export function rawRequest(
  baseUrl: string,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: unknown; timeoutMs?: number } = {},
): Promise<RawOutcome> {
  const started = performance.now();
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve) => {
    const req = request(
      new URL(path, baseUrl),
      {
        method: options.method ?? (payload === undefined ? "GET" : "POST"),
        agent: false,
        headers: {
          ...(payload === undefined ? {} : { "content-type": "application/json", "content-length": String(Buffer.byteLength(payload)) }),
          ...options.headers,
        },
        timeout: options.timeoutMs ?? 30_000,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve({ kind: "response", status: res.statusCode ?? 0, body, ms: performance.now() - started }));
        res.on("error", (error: NodeJS.ErrnoException) => resolve({ kind: "error", code: error.code ?? error.message, ms: performance.now() - started }));
      },
    );
    req.on("timeout", () => req.destroy(Object.assign(new Error("timed out"), { code: "TIMEOUT" })));
    req.on("error", (error: NodeJS.ErrnoException) => resolve({ kind: "error", code: error.code ?? error.message, ms: performance.now() - started }));
    req.end(payload);
  });
}
