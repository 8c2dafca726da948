import { create, type DescMethod, type DescMethodUnary } from "@bufbuild/protobuf";
import { EmptySchema } from "@bufbuild/protobuf/wkt";
import type { ContextValues, HandlerContext, Interceptor } from "@connectrpc/connect";
import { invokeUnaryImplementation } from "@connectrpc/connect/protocol";
import type { NodeServerRequest, NodeServerResponse } from "./node-types.js";

/**
 * The handler context of a call made in-process for an HTTP request (REST paths): its headers, a
 * signal that fires when the client goes away before the answer is written, and no deadline.
 * Built here rather than with connect's createHandlerContext, which adds a deadline and a linked
 * controller (REST calls have no deadline) and copies every header set once more. Unlike connect's
 * own handlers the signal does not also fire after a completed call (which creates a DOMException
 * per request, and which no unary handler here listens for).
 */
export function httpHandlerContext(
  req: NodeServerRequest,
  res: NodeServerResponse,
  method: DescMethod,
  url: URL,
  values: ContextValues,
): HandlerContext {
  const header = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (name.startsWith(":") || value === undefined) continue;
    header.set(name, Array.isArray(value) ? value.join(", ") : value);
  }
  const aborted = new AbortController();
  res.once("close", () => {
    if (!res.writableFinished) aborted.abort();
  });
  return {
    service: method.parent,
    method,
    protocolName: "rest",
    requestMethod: req.method ?? "POST",
    url: url.href,
    signal: aborted.signal,
    timeoutMs: () => undefined,
    requestHeader: header,
    responseHeader: new Headers(),
    responseTrailer: new Headers(),
    values,
  };
}

/** A unary method taking and answering `google.protobuf.Empty`: the name of an in-process call. */
export type InProcessMethod = DescMethodUnary<typeof EmptySchema, typeof EmptySchema>;

/**
 * Runs `work` for an HTTP request as the implementation of `method`, through the very interceptors
 * every RPC runs (credentials, error boundary, request scope): how routes that are no RPC (such as
 * `/rest/v1`) share authentication, error handling, logging and metrics with every other call.
 * `method` names the call in logs and metrics; its messages are unused (Empty). Throws what the
 * chain throws: catalogue errors (ConnectError).
 */
export type InProcessCall = <T>(
  req: NodeServerRequest,
  res: NodeServerResponse,
  method: InProcessMethod,
  work: (context: HandlerContext) => Promise<T>,
) => Promise<T>;

/** Creates the {@link InProcessCall} of a server's interceptors. */
export function createInProcessCall(options: {
  interceptors: Interceptor[];
  contextValues(req: NodeServerRequest): ContextValues;
}): InProcessCall {
  const empty = create(EmptySchema);
  return async (req, res, method, work) => {
    let answer: { value: Awaited<ReturnType<typeof work>> } | undefined;
    const impl = async (_input: unknown, context: HandlerContext) => {
      answer = { value: await work(context) };
      return empty;
    };
    const context = httpHandlerContext(req, res, method, new URL(req.url ?? "/", "http://localhost"), options.contextValues(req));
    await invokeUnaryImplementation({ kind: "unary", method, impl }, context, empty, options.interceptors);
    if (!answer) throw new Error(`${method.name} completed without an answer`);
    return answer.value;
  };
}
