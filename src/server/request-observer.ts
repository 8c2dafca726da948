import { performance } from "node:perf_hooks";
import { ConnectError, type Interceptor } from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import { catalogue, isReason, reasonOf, type Reason } from "../errors/catalogue.js";
import type { Logger } from "../logging/logger.js";
import { currentRequestScope, requestIdFrom, type RequestScope } from "../logging/request-scope.js";
import type { Metrics } from "./metrics.js";
import type { NodeServerRequest, NodeServerResponse } from "./node-types.js";

/** Endpoints whose path is their route label; any other path that is no RPC is `other`. */
const fixedRoutes: ReadonlySet<string> = new Set(["/health", "/ready", "/metrics", "/openapi.json", "/docs"]);

/** Probed every few seconds by orchestrators and scrapers: logged at debug level only. */
const probeRoutes: ReadonlySet<string> = new Set(["/health", "/ready", "/metrics", "grpc.health.v1.Health/Check"]);

// The gRPC code of an HTTP status, as the catalogue pairs them (the first reason with that status).
const codeOfStatus = new Map<number, string>();
for (const entry of Object.values(catalogue)) {
  if (!codeOfStatus.has(entry.status)) codeOfStatus.set(entry.status, codeToString(entry.code));
}

function outcomeCode(status: number, reason: string | undefined): string {
  if (reason !== undefined && isReason(reason)) return codeToString(catalogue[reason].code);
  if (status < 400) return "ok";
  return codeOfStatus.get(status) ?? (status >= 500 ? "internal" : "unknown");
}

function protocolOf(req: NodeServerRequest, rpc: boolean, route: string | undefined): string {
  const contentType = req.headers["content-type"] ?? "";
  if (rpc) {
    if (contentType.startsWith("application/grpc-web")) return "grpc-web";
    if (contentType.startsWith("application/grpc")) return "grpc";
    return "connect";
  }
  return route === undefined ? "http" : "rest";
}

/** What {@link observeRequest} reports to. */
export interface RequestObserverOptions {
  logger: Logger;
  metrics: Metrics;
}

/**
 * The logger of access lines: `logger` without its redaction, which would walk every line for
 * secret-named fields (about 40 % of a line's cost, measured); access lines only ever hold the fixed
 * fields below, none of them a secret.
 */
const accessLoggers = new WeakMap<Logger, Logger>();
function accessLoggerOf(logger: Logger): Logger {
  let access = accessLoggers.get(logger);
  if (!access) accessLoggers.set(logger, (access = logger.child({}, { redact: [] })));
  return access;
}

/**
 * Starts observing one request: gives it an id (echoed as `X-Request-Id`) and, when its response
 * closes, logs one line and counts it in the metrics: route, protocol, status, outcome code,
 * failure reason, duration. The line carries the path without its query string, which may hold an
 * `apikey`; no header or body is logged. Run the request in the returned scope
 * (`runInRequestScope`) so that every line it logs carries the id too.
 */
export function observeRequest(
  req: NodeServerRequest,
  res: NodeServerResponse,
  path: string,
  rpc: boolean,
  options: RequestObserverOptions,
): RequestScope {
  const scope: RequestScope = { id: requestIdFrom(req.headers["x-request-id"]) };
  if (rpc) scope.route = path.slice(1);
  res.setHeader("x-request-id", scope.id);
  const started = performance.now();
  const finished = options.metrics.requestStarted();
  res.once("close", () => {
    finished();
    const seconds = (performance.now() - started) / 1000;
    const route = scope.route ?? (fixedRoutes.has(path) ? path : "other");
    const protocol = protocolOf(req, rpc, scope.route);
    const status = res.statusCode;
    const code = outcomeCode(status, scope.reason);
    options.metrics.observeRequest({ route, protocol, code, reason: scope.reason ?? "" }, seconds);
    const line = {
      reqId: scope.id,
      method: req.method,
      path,
      route,
      protocol,
      status,
      code,
      reason: scope.reason,
      durationMs: Math.round(seconds * 100_000) / 100,
      aborted: res.writableFinished ? undefined : true,
    };
    const log = accessLoggerOf(options.logger);
    if (code === "internal" || code === "unknown") log.error(line, "request");
    else if (status >= 500) log.warn(line, "request");
    else if (probeRoutes.has(route)) log.debug(line, "request");
    else log.info(line, "request");
  });
  return scope;
}

/** Records a failure reason of the current request that no RPC reported (a 404, a malformed REST body). */
export function noteRequestReason(reason: Reason): void {
  const scope = currentRequestScope();
  if (scope) scope.reason ??= reason;
}

/**
 * Tells the current request's scope which RPC serves it and the reason it failed with, whatever
 * the protocol (REST calls included). Runs outermost, so it sees the reason the client gets.
 */
export function createRequestScopeInterceptor(): Interceptor {
  return (next) => async (req) => {
    const scope = currentRequestScope();
    if (scope) scope.route = `${req.service.typeName}/${req.method.name}`;
    try {
      return await next(req);
    } catch (error) {
      if (scope) scope.reason = reasonOf(ConnectError.from(error));
      throw error;
    }
  };
}
