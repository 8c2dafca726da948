import { create, isMessage, type DescMethodUnary, type Message } from "@bufbuild/protobuf";
import { EmptySchema } from "@bufbuild/protobuf/wkt";
import {
  Code,
  ConnectError,
  createContextKey,
  type ContextValues,
  type HandlerContext,
  type Interceptor,
  type MethodImplSpec,
  type UnaryRequest,
} from "@connectrpc/connect";
import type { NodeServerRequest, NodeServerResponse } from "./node-types.js";

/** What an in-process call runs once the interceptors let it through. */
export type UnaryTarget = (input: Message, context: HandlerContext) => Promise<Message>;

/** The {@link UnaryTarget} of a unary implementation: its answer made a message when it is an init object, as connect does. */
export function unaryTarget(spec: MethodImplSpec & { kind: "unary" }): UnaryTarget {
  const { method, impl } = spec;
  return async (input, context) => {
    const answer = await impl(input, context);
    return isMessage(answer, method.output) ? answer : create(method.output, answer);
  };
}

/** How a call is made: the protocol it came by, where the chain's headers go, and its deadline. */
export interface CallOptions {
  /** `rest`, `grpc` or `connect`, as `HandlerContext.protocolName` tells handlers. */
  protocolName: string;
  /** Receives the response headers the chain sets (and has set, when the call fails). */
  header: Headers;
  /** Receives the response trailers; REST passes `header`, having no trailers. */
  trailer: Headers;
  /** The client's deadline, from now; none when undefined. */
  timeoutMs?: number;
}

/** What a unary call answered: its message and the headers and trailers the chain set. */
export interface UnaryAnswer {
  message: Message;
  header: Headers;
  trailer: Headers;
}

/**
 * Calls unary RPC implementations in-process for HTTP requests (the REST paths, and unary gRPC and
 * Connect calls, see `unary-rpc.ts`), through the very interceptors every RPC runs: the lean path
 * beside connect's handlers. The interceptor chain of a method is composed once, not per call; a
 * call builds one request and one handler context, copies the request headers once, and creates its
 * abort signal only if something asks for it (no unary handler of ours does). The signal aborts
 * when the client goes away or its deadline passes.
 */
export interface UnaryCaller {
  /**
   * Runs `target` as the implementation of `method` for `req`. Resolves its answer; rejects with what
   * the chain throws (catalogue errors as ConnectError), the headers and trailers set so far left in
   * `options`.
   */
  call(method: DescMethodUnary, target: UnaryTarget, req: NodeServerRequest, res: NodeServerResponse, input: Message, options: CallOptions): Promise<UnaryAnswer>;
}

/** The call being made: what the innermost link of a composed chain needs. */
interface PendingCall {
  target: UnaryTarget;
  /** The handler context, with the headers and values the request reached the handler with. */
  context(request: UnaryRequest): HandlerContext;
}

const pendingCallKey = createContextKey<PendingCall | undefined>(undefined, { description: "the in-process call being made" });

/** The longest delay `setTimeout` takes (2^31 − 1 ms). */
const maxTimerMs = 2_147_483_647;

/** A link of an interceptor chain. */
type Next = Parameters<Interceptor>[0];

/** Creates the {@link UnaryCaller} of a server's interceptors. */
export function createUnaryCaller(options: { interceptors: Interceptor[]; contextValues(req: NodeServerRequest): ContextValues }): UnaryCaller {
  const chains = new Map<DescMethodUnary, Next>();
  const chainOf = (method: DescMethodUnary): Next => {
    const composed = chains.get(method);
    if (composed) return composed;
    let chain: Next = async (request) => {
      const pending = request.contextValues.get(pendingCallKey);
      if (request.stream || !pending) throw new Error(`${method.name} was called outside an in-process unary call`);
      const context = pending.context(request);
      const message = await pending.target(request.message, context);
      return { stream: false, service: method.parent, method, header: context.responseHeader, trailer: context.responseTrailer, message };
    };
    for (const interceptor of [...options.interceptors].reverse()) chain = interceptor(chain);
    chains.set(method, chain);
    return chain;
  };

  return {
    call(method, target, req, res, input, { protocolName, header, trailer, timeoutMs }) {
      const values = options.contextValues(req);
      const requestHeader = incomingHeaders(req);
      const url = `http://localhost${req.url ?? "/"}`;
      const deadline = timeoutMs === undefined ? undefined : performance.now() + timeoutMs;
      let aborted: AbortController | undefined;
      const signal = () => {
        if (!aborted) {
          aborted = new AbortController();
          const controller = aborted;
          if (res.closed && !res.writableFinished) controller.abort();
          else res.once("close", () => !res.writableFinished && controller.abort());
          // Past setTimeout's range (~24.8 days) Node would fire at once; such a deadline never passes here.
          if (deadline !== undefined && deadline - performance.now() <= maxTimerMs) {
            const timer = setTimeout(() => controller.abort(new ConnectError("the operation timed out", Code.DeadlineExceeded)), deadline - performance.now());
            timer.unref();
            res.once("close", () => clearTimeout(timer));
          }
        }
        return aborted.signal;
      };
      // An interceptor may pass on other headers or values than the call started with. (Built
      // without spreading, which would read the signal getter and so create the signal.)
      const context = (request: UnaryRequest): HandlerContext => ({
        service: method.parent,
        method,
        protocolName,
        requestMethod: request.requestMethod,
        url,
        get signal() {
          return signal();
        },
        timeoutMs: () => (deadline === undefined ? undefined : Math.max(0, deadline - performance.now())),
        requestHeader: request.header,
        responseHeader: header,
        responseTrailer: trailer,
        values: request.contextValues,
      });
      values.set(pendingCallKey, { target, context });
      const request: UnaryRequest = {
        stream: false,
        service: method.parent,
        method,
        requestMethod: req.method ?? "POST",
        url,
        get signal() {
          return signal();
        },
        header: requestHeader,
        contextValues: values,
        message: input,
      };
      return chainOf(method)(request).then((response) => {
        if (response.stream) throw new Error(`${method.name} answered a stream`);
        return { message: response.message, header: response.header, trailer: response.trailer };
      });
    },
  };
}

/** The request's headers as `Headers`, HTTP/2 pseudo-headers left out. */
function incomingHeaders(req: NodeServerRequest): Headers {
  const header = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (name.startsWith(":") || value === undefined) continue;
    header.set(name, Array.isArray(value) ? value.join(", ") : value);
  }
  return header;
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

/** The {@link InProcessCall} of `caller`. */
export function inProcessCall(caller: UnaryCaller): InProcessCall {
  const empty: Message = { $typeName: EmptySchema.typeName };
  return async (req, res, method, work) => {
    let answer: { value: Awaited<ReturnType<typeof work>> } | undefined;
    const target: UnaryTarget = async (_input, context) => {
      answer = { value: await work(context) };
      return empty;
    };
    const header = new Headers();
    await caller.call(method, target, req, res, empty, { protocolName: "rest", header, trailer: header });
    if (!answer) throw new Error(`${method.name} completed without an answer`);
    return answer.value;
  };
}
