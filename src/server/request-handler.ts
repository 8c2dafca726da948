import type { DescMethod, DescService } from "@bufbuild/protobuf";
import {
  createConnectRouter,
  createContextValues,
  createMethodImplSpec,
  createServiceImplSpec,
  type ConnectRouter,
  type Interceptor,
  type MethodImplSpec,
} from "@connectrpc/connect";
import type { UniversalHandler } from "@connectrpc/connect/protocol";
import {
  compressionBrotli,
  compressionGzip,
  universalRequestFromNodeRequest,
  universalResponseToNodeResponse,
} from "@connectrpc/connect-node";
import type { Reason } from "../errors/catalogue.js";
import type { Logger } from "../logging/logger.js";
import { runInRequestScope } from "../logging/request-scope.js";
import { createCors, type CorsOptions } from "./cors.js";
import { createDocsRoutes } from "./docs-page.js";
import { healthServices, registerHealth } from "./grpc-health.js";
import { healthResponder } from "./health.js";
import { restBindings } from "./http-rules.js";
import { sendError } from "./http-response.js";
import { createUnaryCaller, inProcessCall, type InProcessCall } from "./in-process-call.js";
import type { NodeHandlerFn, NodeServerRequest, NodeServerResponse } from "./node-types.js";
import { metricsResponder, type Metrics } from "./metrics.js";
import { buildOpenApiDocument, packageVersion } from "./openapi.js";
import { registerReflection } from "./reflection.js";
import { clientAddressKey } from "./request-context.js";
import { noteRequestReason, observeRequest } from "./request-observer.js";
import type { Responder } from "./responder.js";
import { createRestGateway } from "./rest-gateway.js";
import { createUnaryRpc } from "./unary-rpc.js";
import type { ServingState } from "./serving-state.js";
import { negotiateSupabaseApiVersion } from "./supabase-compat.js";

/** A set of RPC services and how to register their implementations. */
export interface ServiceModule {
  services: DescService[];
  register(router: ConnectRouter): void;
  /** Methods callable without credentials (documented as such in the OpenAPI document). */
  publicMethods?: ReadonlySet<DescMethod>;
  /**
   * Fields of a `body: "*"` method that clients send in the query string instead (documented as
   * query parameters; the transcoder takes any field from either).
   */
  queryParameters?: ReadonlyMap<DescMethod, readonly string[]>;
  /**
   * The reasons each method's handler answers, listed in the OpenAPI document with those of the
   * interceptors and the transcoder; a method without an entry is documented with every reason.
   */
  errorReasons?: ReadonlyMap<DescMethod, readonly Reason[]>;
}

/**
 * An HTTP route that is no RPC (such as `/rest/v1`): it runs its work through `call`, the server's
 * interceptors, so that it shares their authentication, error handling, logging and metrics.
 */
export interface HttpRoute {
  /** The responder of `req` if `path` (its URL's path) is this route's; undefined otherwise. */
  route(req: NodeServerRequest, res: NodeServerResponse, path: string, call: InProcessCall): Responder | undefined;
}

/** What the request handler serves. */
export interface RequestHandlerOptions {
  modules: ServiceModule[];
  /** Run around every RPC of `modules`, REST calls included; reflection stays outside them. */
  interceptors: Interceptor[];
  maxBodyBytes: number;
  /** Readiness, behind `/ready` and the gRPC health service. */
  serving: ServingState;
  /** Counted per request, and served at `/metrics`. */
  metrics: Metrics;
  logger: Logger;
  /** Which browser origins may call the API; default any. */
  cors?: CorsOptions;
  /**
   * Reasons the `interceptors` answer: `any` on every call, `authenticated` on calls of methods
   * that are not public (documented with each operation).
   */
  interceptorReasons?: { any: readonly Reason[]; authenticated: readonly Reason[] };
  /** Routes tried after the REST paths of the RPCs, before answering 404. */
  routes?: HttpRoute[];
}

/** What the transcoder and the error boundaries can answer on any call. */
const transportReasons: readonly Reason[] = ["validation_failed", "bad_json", "unsupported_media_type", "payload_too_large", "internal_error"];

/**
 * Builds the one request listener behind the port: CORS, health endpoints (`/health`, `/ready`, and
 * `grpc.health.v1`), `/metrics`, RPCs over gRPC, gRPC-Web and Connect at `/package.Service/Method`
 * (unary gRPC and Connect calls through the lean path of `unary-rpc.ts`, the rest through connect's handlers),
 * the REST paths of their `google.api.http` annotations, and the OpenAPI document of those paths
 * with its reference page. Every request gets an id (`X-Request-Id`), one log line and its metrics
 * (see `request-observer.ts`).
 */
export function createRequestHandler(options: RequestHandlerOptions): NodeHandlerFn {
  const routerOptions = {
    acceptCompression: [compressionGzip, compressionBrotli],
    readMaxBytes: options.maxBodyBytes,
    jsonOptions: { alwaysEmitImplicit: true },
  };
  const app = createConnectRouter({ ...routerOptions, interceptors: options.interceptors });
  const services = options.modules.flatMap((module) => module.services);
  const implementations = new Map<DescMethod, MethodImplSpec>();
  const recorder: ConnectRouter = {
    handlers: app.handlers,
    service(service, implementation, serviceOptions) {
      for (const spec of Object.values(createServiceImplSpec(service, implementation).methods)) {
        implementations.set(spec.method, spec);
      }
      return app.service(service, implementation, serviceOptions);
    },
    rpc(method, implementation, methodOptions) {
      implementations.set(method, createMethodImplSpec(method, implementation));
      return app.rpc(method, implementation, methodOptions);
    },
  };
  options.modules.forEach((module) => module.register(recorder));
  // Reflection and health answer without credentials, so they stay outside the interceptors.
  const reflection = createConnectRouter(routerOptions);
  registerReflection(reflection, [...services, ...healthServices]);
  registerHealth(reflection, { state: options.serving, services });

  const handlers = new Map<string, UniversalHandler>();
  for (const handler of [...app.handlers, ...reflection.handlers]) handlers.set(handler.requestPath, handler);

  const contextValues = (req: NodeServerRequest) =>
    createContextValues().set(clientAddressKey, req.socket.remoteAddress ?? "unknown");
  const bindings = restBindings(services);
  const caller = createUnaryCaller({ interceptors: options.interceptors, contextValues });
  const gateway = createRestGateway({ bindings, implementations, caller, maxBodyBytes: options.maxBodyBytes });
  const unaryRpc = createUnaryRpc({
    implementations,
    caller,
    maxBodyBytes: options.maxBodyBytes,
    compressions: routerOptions.acceptCompression,
    jsonOptions: routerOptions.jsonOptions,
  });

  const publicMethods = new Set(options.modules.flatMap((module) => [...(module.publicMethods ?? [])]));
  const docs = createDocsRoutes(
    buildOpenApiDocument({
      bindings,
      publicMethods,
      queryParameters: new Map(options.modules.flatMap((module) => [...(module.queryParameters ?? [])])),
      errorReasons: new Map(options.modules.flatMap((module) => [...(module.errorReasons ?? [])])),
      commonReasons: {
        any: [...transportReasons, ...(options.interceptorReasons?.any ?? [])],
        authenticated: options.interceptorReasons?.authenticated ?? [],
      },
      title: "HeliosDB Nano",
      version: packageVersion(),
    }),
  );
  const cors = createCors(options.cors ?? { origins: "*" });
  const call = inProcessCall(caller);
  const routes = options.routes ?? [];
  const readiness = () => options.serving.readiness();

  /** The responder of a request that is no RPC: the first route whose path it is, else 404. */
  const responderOf = (req: NodeServerRequest, res: NodeServerResponse, path: string): Responder => {
    const fixed = req.method === "GET" ? (healthResponder(path, res, readiness) ?? metricsResponder(path, res, options.metrics)) : undefined;
    let responder = fixed ?? docs.route(req, res, path) ?? gateway.route(req, res, path);
    for (const route of routes) responder ??= route.route(req, res, path, call);
    return (
      responder ??
      (() => {
        noteRequestReason("not_found");
        sendError(res, "not_found", `No route for ${req.method ?? ""} ${path}`);
      })
    );
  };
  const failed = (res: NodeServerResponse, path: string, error: unknown) => {
    noteRequestReason("internal_error");
    options.logger.error({ err: error, path }, "request failed outside the RPC error model");
    if (!res.headersSent) sendError(res, "internal_error");
    else res.destroy?.();
  };

  return (req, res) => {
    const path = (req.url ?? "/").split("?", 1)[0] ?? "/";
    const rpc = handlers.get(path);
    const scope = observeRequest(req, res, path, rpc !== undefined, { logger: options.logger, metrics: options.metrics });
    runInRequestScope(scope, () => {
      if (cors(req, res)) return;
      negotiateSupabaseApiVersion(req, res);
      let served: void | Promise<void>;
      try {
        served = rpc
          ? (unaryRpc(path, req, res) ??
            rpc(universalRequestFromNodeRequest(req, res, undefined, contextValues(req))).then((uRes) => universalResponseToNodeResponse(uRes, res)))
          : responderOf(req, res, path)();
      } catch (error) {
        failed(res, path, error);
        return;
      }
      served?.catch((error: unknown) => failed(res, path, error));
    });
  };
}
