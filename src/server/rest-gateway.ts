import { fromJson, toJson, type DescMessage, type DescMethod, type JsonValue, type Message, type MessageShape } from "@bufbuild/protobuf";
import { ConnectError, type ContextValues, type Interceptor, type MethodImplSpec } from "@connectrpc/connect";
import { invokeUnaryImplementation } from "@connectrpc/connect/protocol";
import { HttpBodySchema, type HttpBody } from "../../gen/google/api/httpbody_pb.js";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { apiError, errorDomain, reasonOf } from "../errors/catalogue.js";
import { fieldValueFromText, type RestBinding } from "./http-rules.js";
import { sendError, sendJson } from "./http-response.js";
import { httpHandlerContext } from "./in-process-call.js";
import type { NodeServerRequest, NodeServerResponse } from "./node-types.js";
import { bodyTooLarge, readBody } from "./read-body.js";
import { withoutGoTrueEnvelope } from "./supabase-compat.js";

/** What the gateway needs from the server. */
export interface RestGatewayOptions {
  bindings: RestBinding[];
  /** The implementation of every RPC, by method. */
  implementations: ReadonlyMap<DescMethod, MethodImplSpec>;
  /** The interceptors every RPC runs through; REST calls run through the very same ones. */
  interceptors: Interceptor[];
  maxBodyBytes: number;
  contextValues(req: NodeServerRequest): ContextValues;
  /** Answer types written with their own encoder instead of protobuf's `toJson`. */
  encoders?: readonly RestEncoder[];
}

/**
 * Writes one message type as REST JSON: the very JSON protobuf's `toJson` (with
 * `alwaysEmitImplicit`) gives, for types whose reflective encoding costs too much (large
 * `google.protobuf.Value` trees).
 */
export interface RestEncoder {
  readonly typeName: string;
  toJson(message: Message): unknown;
}

/** A {@link RestEncoder} of the messages of `schema`. */
export function restEncoder<Desc extends DescMessage>(schema: Desc, toJson: (message: MessageShape<Desc>) => unknown): RestEncoder {
  return { typeName: schema.typeName, toJson: (message) => toJson(message as MessageShape<Desc>) };
}

/** Translates REST requests into calls of the very same RPC handlers. */
export interface RestGateway {
  /** Serves `req` if a REST path matches it; resolves false when none does. */
  handle(req: NodeServerRequest, res: NodeServerResponse): Promise<boolean>;
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

/**
 * Creates the transcoder from REST paths (compiled from `google.api.http`) to RPCs. A REST request
 * is decoded into the RPC's input message and handed to the RPC's own implementation through the
 * same interceptor chain that gRPC and Connect calls run (connect's `invokeUnaryImplementation`),
 * in-process: no protocol envelope, no second JSON pass. The answer follows the REST contract: the
 * JSON message (or its `response_body` field), 204 for `google.protobuf.Empty`, the bytes of a
 * `google.api.HttpBody` with its content type, and errors as
 * `{"error", "message"}` with the catalogue status.
 */
export function createRestGateway(options: RestGatewayOptions): RestGateway {
  const { bindings, implementations, maxBodyBytes } = options;
  const encoders = new Map((options.encoders ?? []).map((encoder) => [encoder.typeName, encoder.toJson]));
  const encode = (schema: DescMessage, message: Message): unknown => {
    const encoder = encoders.get(schema.typeName);
    return encoder ? encoder(message) : toJson(schema, message, { alwaysEmitImplicit: true });
  };

  async function handle(req: NodeServerRequest, res: NodeServerResponse): Promise<boolean> {
    const url = new URL(req.url ?? "/", "http://localhost");
    const onPath = bindings
      .map((binding) => ({ binding, match: binding.pattern.exec(url.pathname) }))
      .filter((candidate) => candidate.match !== null);
    if (onPath.length === 0) return false;
    const chosen = onPath.find((candidate) => candidate.binding.httpMethod === req.method);
    if (!chosen) {
      const allow = [...new Set(onPath.map((candidate) => candidate.binding.httpMethod))].join(", ");
      sendError(res, "method_not_allowed", `Method ${req.method ?? ""} is not allowed; use ${allow}`, {
        headers: { allow },
      });
      return true;
    }
    const { binding } = chosen;
    const spec = implementations.get(binding.method);
    if (spec?.kind !== "unary") throw new Error(`no unary implementation of ${binding.method.parent.typeName}.${binding.method.name}`);

    let input;
    try {
      const json = await requestMessage(req, binding, chosen.match?.groups ?? {}, url.searchParams);
      input = fromJson(binding.method.input, json as JsonValue);
    } catch (error) {
      if (error instanceof RestInputError) {
        writeRestError(res, error.error);
        return true;
      }
      if (!(error instanceof Error)) throw error;
      // fromJson: unknown fields, wrong types, out-of-range numbers.
      writeRestError(res, apiError("validation_failed", error.message.replace(/^cannot decode message [\w.]+ from JSON: /, "")));
      return true;
    }

    const context = httpHandlerContext(req, res, binding.method, url, options.contextValues(req));
    let output;
    try {
      output = await invokeUnaryImplementation(spec, context, input, options.interceptors);
    } catch (error) {
      writeRestError(res, ConnectError.from(error), responseHeaders(context.responseHeader, context.responseTrailer));
      return true;
    }
    const restHeaders = responseHeaders(context.responseHeader, context.responseTrailer);
    if (binding.method.output.typeName === "google.protobuf.Empty") {
      res.writeHead(204, restHeaders);
      res.end();
      return true;
    }
    if (binding.method.output.typeName === HttpBodySchema.typeName) {
      // google.api.HttpBody: the answer is its bytes, with its own content type.
      const { contentType, data } = output as HttpBody;
      res.writeHead(200, { ...restHeaders, "content-type": contentType || "application/octet-stream", "content-length": String(data.byteLength) });
      res.end(data);
      return true;
    }
    const body = encode(binding.method.output, output) as Record<string, unknown>;
    sendJson(res, 200, selectResponseBody(binding, body), restHeaders);
    return true;
  }

  async function requestMessage(
    req: NodeServerRequest,
    binding: RestBinding,
    pathVariables: Record<string, string>,
    query: URLSearchParams,
  ): Promise<Record<string, unknown>> {
    const input = binding.method.input;
    let message: Record<string, unknown> = {};
    if (binding.body !== "") {
      const parsed = await readJsonBody(req);
      if (binding.body === "*") {
        if (parsed !== undefined) {
          if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
            throw new RestInputError(apiError("validation_failed", "Request body must be a JSON object"));
          }
          message = withoutGoTrueEnvelope(req, parsed as Record<string, unknown>);
          checkObjectFields(input, message);
        }
      } else if (parsed !== undefined) {
        message = { [fieldJsonName(input, binding.body)]: parsed };
      }
    }
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

  return { handle };
}

/**
 * Refuses a `google.protobuf.Struct` field given anything but a JSON object (or null), naming the
 * field, before the protobuf decoding would refuse it in its own words.
 */
function checkObjectFields(input: DescMessage, message: Record<string, unknown>): void {
  for (const field of input.fields) {
    if (field.fieldKind !== "message" || field.message.typeName !== "google.protobuf.Struct") continue;
    const value = message[field.jsonName] ?? message[field.name];
    if (value === undefined || value === null || (typeof value === "object" && !Array.isArray(value))) continue;
    throw new RestInputError(apiError("validation_failed", `${field.jsonName} must be a JSON object`, { metadata: { field: field.jsonName } }));
  }
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

function responseHeaders(header: Headers, trailer: Headers): Record<string, string> {
  const result: Record<string, string> = { ...uncacheable };
  header.forEach((value, name) => {
    result[name] = value;
  });
  trailer.forEach((value, name) => {
    result[name] = value;
  });
  return result;
}
