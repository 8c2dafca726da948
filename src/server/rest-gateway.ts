import { type DescMessage, type DescMethod, type DescMethodUnary, type Message } from "@bufbuild/protobuf";
import { ConnectError, type MethodImplSpec } from "@connectrpc/connect";
import { HttpBodySchema, type HttpBody } from "../../gen/google/api/httpbody_pb.js";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { apiError, errorDomain, reasonOf } from "../errors/catalogue.js";
import { fieldValueFromText, type RestBinding } from "./http-rules.js";
import { sendError, sendJson } from "./http-response.js";
import { unaryTarget, type UnaryCaller, type UnaryTarget } from "./in-process-call.js";
import { jsonCodec, JsonInputError, type JsonCodec } from "./json-codec.js";
import type { NodeServerRequest, NodeServerResponse } from "./node-types.js";
import { bodyTooLarge, readBody } from "./read-body.js";
import type { Responder } from "./responder.js";
import { withoutGoTrueEnvelope } from "./supabase-compat.js";

/** What the gateway needs from the server. */
export interface RestGatewayOptions {
  bindings: RestBinding[];
  /** The implementation of every RPC, by method. */
  implementations: ReadonlyMap<DescMethod, MethodImplSpec>;
  /** Runs calls through the interceptors every RPC runs through. */
  caller: UnaryCaller;
  maxBodyBytes: number;
}

/** Translates REST requests into calls of the very same RPC handlers. */
export interface RestGateway {
  /** The responder of `req` if a REST path matches `path` (its URL's path); undefined when none does. */
  route(req: NodeServerRequest, res: NodeServerResponse, path: string): Responder | undefined;
}

/** Query parameters that carry credentials, never request fields. */
const credentialParams = new Set(["apikey"]);

/** Response headers that belong to the Connect envelope, not to the REST answer. */
const envelopeHeader = /^(content-type|content-length|content-encoding|connect-|grpc-)/i;

/** A client error raised while building the RPC request from REST input. */
class RestInputError extends Error {
  constructor(
    readonly error: ConnectError,
  ) {
    super(error.message);
  }
}

/** A REST path with everything its calls need, prepared once. */
interface Route {
  binding: RestBinding;
  method: DescMethodUnary;
  target: UnaryTarget;
  input: JsonCodec<DescMessage>;
  output: JsonCodec<DescMessage>;
}

/**
 * Creates the transcoder from REST paths (compiled from `google.api.http`) to RPCs. A REST request
 * is decoded into the RPC's input message by a codec compiled for its type and handed to the RPC's
 * own implementation through the same interceptors gRPC and Connect calls run, in-process (see
 * {@link UnaryCaller}): no protocol envelope, no reflective JSON pass. The answer follows the REST
 * contract: the JSON message (or its `response_body` field), 204 for `google.protobuf.Empty`, the
 * bytes of a `google.api.HttpBody` with its content type, and errors as `{"error", "message"}` with
 * the catalogue status; each is written with one `end()`.
 */
export function createRestGateway(options: RestGatewayOptions): RestGateway {
  const { bindings, implementations, maxBodyBytes, caller } = options;
  const routes: Route[] = bindings.map((binding) => {
    const spec = implementations.get(binding.method);
    if (spec?.kind !== "unary") throw new Error(`no unary implementation of ${binding.method.parent.typeName}.${binding.method.name}`);
    const { method } = spec;
    return { binding, method, target: unaryTarget(spec), input: jsonCodec(method.input), output: jsonCodec(method.output) };
  });

  function route(req: NodeServerRequest, res: NodeServerResponse, path: string): Responder | undefined {
    const allowed = new Set<string>();
    for (const candidate of routes) {
      const match = candidate.binding.pattern.exec(path);
      if (!match) continue;
      if (candidate.binding.httpMethod === req.method) return () => serve(req, res, candidate, match.groups ?? {});
      allowed.add(candidate.binding.httpMethod);
    }
    if (allowed.size === 0) return undefined;
    const allow = [...allowed].join(", ");
    return () => sendError(res, "method_not_allowed", `Method ${req.method ?? ""} is not allowed; use ${allow}`, { headers: { allow } });
  }

  async function serve(req: NodeServerRequest, res: NodeServerResponse, route: Route, pathVariables: Record<string, string>): Promise<void> {
    const { binding } = route;
    const queryStart = req.url?.indexOf("?") ?? -1;
    const query = new URLSearchParams(queryStart < 0 ? "" : req.url?.slice(queryStart + 1));
    let input: Message;
    try {
      input = route.input.decode(binding.body === "" ? requestFields(binding, pathVariables, query, {}) : await requestMessage(req, binding, pathVariables, query));
    } catch (error) {
      if (error instanceof RestInputError) return writeRestError(res, error.error);
      if (!(error instanceof JsonInputError)) throw error;
      return writeRestError(res, apiError("validation_failed", error.message, error.field === "" ? {} : { metadata: { field: error.field } }));
    }

    const header = new Headers();
    let output: Message;
    try {
      // A REST answer has no trailers: what a handler puts in either becomes a header of the answer.
      output = (await caller.call(route.method, route.target, req, res, input, { protocolName: "rest", header, trailer: header })).message;
    } catch (error) {
      return writeRestError(res, ConnectError.from(error), responseHeaders(header));
    }
    const restHeaders = responseHeaders(header);
    if (route.method.output.typeName === "google.protobuf.Empty") {
      res.writeHead(204, restHeaders);
      res.end();
      return;
    }
    if (route.method.output.typeName === HttpBodySchema.typeName) {
      // google.api.HttpBody: the answer is its bytes, with its own content type.
      const { contentType, data } = output as HttpBody;
      res.writeHead(200, { ...restHeaders, "content-type": contentType || "application/octet-stream", "content-length": String(data.byteLength) });
      res.end(data);
      return;
    }
    const body = route.output.encode(output) as Record<string, unknown>;
    sendJson(res, 200, selectResponseBody(binding, body), restHeaders);
  }

  /** The input of a binding with a body: the body's JSON, then the query and path fields. */
  async function requestMessage(
    req: NodeServerRequest,
    binding: RestBinding,
    pathVariables: Record<string, string>,
    query: URLSearchParams,
  ): Promise<Record<string, unknown>> {
    const parsed = await readJsonBody(req);
    let message: Record<string, unknown> = {};
    if (binding.body === "*") {
      if (parsed !== undefined) {
        if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
          throw new RestInputError(apiError("validation_failed", "Request body must be a JSON object"));
        }
        message = withoutGoTrueEnvelope(req, parsed as Record<string, unknown>);
      }
    } else if (parsed !== undefined) {
      message = { [fieldJsonName(binding.method.input, binding.body)]: parsed };
    }
    return requestFields(binding, pathVariables, query, message);
  }

  /** Sets the fields of `message` that the query string and the path variables carry. */
  function requestFields(
    binding: RestBinding,
    pathVariables: Record<string, string>,
    query: URLSearchParams,
    message: Record<string, unknown>,
  ): Record<string, unknown> {
    const input = binding.method.input;
    for (const [name, raw] of query) {
      if (credentialParams.has(name)) continue;
      setField(input, message, name, raw, query.getAll(name));
    }
    for (const [name, raw] of Object.entries(pathVariables)) setField(input, message, name, decodeURIComponent(raw), [raw]);
    return message;
  }

  async function readJsonBody(req: NodeServerRequest): Promise<unknown> {
    const declared = Number(req.headers["content-length"] ?? "0");
    if (declared > maxBodyBytes) throw new RestInputError(bodyTooLarge(maxBodyBytes));
    const contentType = String(req.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
    const body = await readBody(req, maxBodyBytes);
    if (body === "too_large") throw new RestInputError(bodyTooLarge(maxBodyBytes));
    if (body.length === 0) return undefined;
    // curl's `-d` without `-H` sends form encoding; the guide's own examples rely on JSON passing through it.
    const jsonish =
      contentType === "" ||
      contentType === "application/json" ||
      contentType.endsWith("+json") ||
      contentType === "application/x-www-form-urlencoded";
    if (!jsonish) throw new RestInputError(apiError("unsupported_media_type"));
    try {
      return JSON.parse(body.toString("utf8")) as unknown;
    } catch {
      throw new RestInputError(apiError("bad_json"));
    }
  }

  return { route };
}

function fieldJsonName(message: DescMessage, name: string): string {
  const field = message.fields.find((f) => f.name === name || f.jsonName === name);
  return field?.jsonName ?? name;
}

function setField(
  message: DescMessage,
  target: Record<string, unknown>,
  name: string,
  raw: string,
  all: string[],
): void {
  const field = message.fields.find((f) => f.name === name || f.jsonName === name);
  if (!field) return; // Unknown query parameters are ignored, as HTTP caches and proxies add their own.
  try {
    if (field.fieldKind === "list" && all.length > 1) {
      target[field.jsonName] = all.map((value) => fieldValueFromText(field, value));
    } else {
      target[field.jsonName] = fieldValueFromText(field, raw);
    }
  } catch (error) {
    throw new RestInputError(apiError("validation_failed", error instanceof Error ? error.message : String(error)));
  }
}

function selectResponseBody(binding: RestBinding, output: Record<string, unknown>): unknown {
  if (binding.responseBody === "") return output;
  return output[fieldJsonName(binding.method.output, binding.responseBody)] ?? null;
}

function writeRestError(res: NodeServerResponse, error: ConnectError, headers: Record<string, string> = {}): void {
  const info = error.findDetails(ErrorInfoSchema).find((d) => d.domain === errorDomain);
  for (const [name, value] of error.metadata) if (!envelopeHeader.test(name)) headers[name] = value;
  sendError(res, reasonOf(error), error.rawMessage, { headers, extra: info ? { ...info.metadata } : {} });
}

/**
 * Answers of the API are personal: sessions (sign-up, sign-in, refresh), new API keys, the caller's
 * user, query rows. No cache, shared or private, may keep them (RFC 9111 no-store; Pragma for
 * HTTP/1.0 caches).
 */
const uncacheable = { "cache-control": "no-store", pragma: "no-cache" };

function responseHeaders(header: Headers): Record<string, string> {
  const result: Record<string, string> = { ...uncacheable };
  header.forEach((value, name) => {
    result[name] = value;
  });
  return result;
}
