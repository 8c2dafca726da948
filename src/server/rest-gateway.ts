import type { DescMessage, JsonObject } from "@bufbuild/protobuf";
import { ConnectError, type ContextValues } from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerRequest } from "@connectrpc/connect/protocol";
import { errorFromJsonBytes } from "@connectrpc/connect/protocol-connect";
import { universalRequestFromNodeRequest } from "@connectrpc/connect-node";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { apiError, errorDomain, reasonOf } from "../errors/catalogue.js";
import { fieldValueFromText, type RestBinding } from "./http-rules.js";
import { sendError, sendJson } from "./http-response.js";
import type { NodeServerRequest, NodeServerResponse } from "./node-types.js";
import { readBody } from "./read-body.js";
import { withoutGoTrueEnvelope } from "./supabase-compat.js";

/** What the gateway needs from the server. */
export interface RestGatewayOptions {
  bindings: RestBinding[];
  /** The RPC handlers, by request path (`/package.Service/Method`). */
  handlers: ReadonlyMap<string, UniversalHandler>;
  maxBodyBytes: number;
  contextValues(req: NodeServerRequest): ContextValues;
}

/** Translates REST requests into calls of the very same RPC handlers. */
export interface RestGateway {
  /** Serves `req` if a REST path matches it; resolves false when none does. */
  handle(req: NodeServerRequest, res: NodeServerResponse): Promise<boolean>;
}

/** Query parameters that carry credentials, never request fields. */
const credentialParams = new Set(["apikey"]);

/** Headers of the original request that must not reach the synthesized Connect request. */
const strippedRequestHeaders = [
  "content-type",
  "content-length",
  "content-encoding",
  "accept-encoding",
  "connect-protocol-version",
  "connect-timeout-ms",
  "transfer-encoding",
];

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
 * becomes a Connect unary JSON call of the RPC's own handler, so it passes the same interceptors,
 * handler and error model as gRPC and Connect clients; the answer is reshaped into the REST
 * contract: the JSON message (or its `response_body` field), 204 for `google.protobuf.Empty`, and
 * errors as `{"error", "message"}` with the catalogue status.
 */
export function createRestGateway(options: RestGatewayOptions): RestGateway {
  const { bindings, handlers, maxBodyBytes } = options;

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
    const handler = handlers.get(`/${binding.method.parent.typeName}/${binding.method.name}`);
    if (!handler) throw new Error(`no handler for ${binding.method.parent.typeName}.${binding.method.name}`);

    let message: Record<string, unknown>;
    try {
      message = await requestMessage(req, binding, chosen.match?.groups ?? {}, url.searchParams);
    } catch (error) {
      if (!(error instanceof RestInputError)) throw error;
      writeRestError(res, error.error);
      return true;
    }

    const header = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (name.startsWith(":") || strippedRequestHeaders.includes(name) || value === undefined) continue;
      header.set(name, Array.isArray(value) ? value.join(", ") : value);
    }
    header.set("content-type", "application/json");
    header.set("connect-protocol-version", "1");
    const base = universalRequestFromNodeRequest(req, res, message as JsonObject, options.contextValues(req));
    const rpcRequest: UniversalServerRequest = {
      ...base,
      method: "POST",
      url: `${url.origin}${handler.requestPath}${url.search}`,
      header,
      body: message as JsonObject,
    };
    const rpcResponse = await handler(rpcRequest);
    const bytes = await collect(rpcResponse.body);
    const restHeaders = passThroughHeaders(rpcResponse.header, rpcResponse.trailer);
    if (rpcResponse.status !== 200) {
      writeRestError(res, errorFromJsonBytes(bytes, undefined, apiError("internal_error")), restHeaders);
      return true;
    }
    if (binding.method.output.typeName === "google.protobuf.Empty") {
      res.writeHead(204, restHeaders);
      res.end();
      return true;
    }
    const output = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
    sendJson(res, 200, selectResponseBody(binding, output), restHeaders);
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
    if (declared > maxBodyBytes) throw new RestInputError(apiError("payload_too_large"));
    const contentType = String(req.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
    const body = await readBody(req, maxBodyBytes);
    if (body === "too_large") throw new RestInputError(apiError("payload_too_large"));
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

function passThroughHeaders(header: Headers | undefined, trailer: Headers | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  header?.forEach((value, name) => {
    if (envelopeHeader.test(name)) return;
    if (name.startsWith("trailer-")) result[name.slice("trailer-".length)] = value;
    else result[name] = value;
  });
  trailer?.forEach((value, name) => {
    result[name] = value;
  });
  return result;
}

async function collect(body: AsyncIterable<Uint8Array> | Uint8Array | undefined): Promise<Uint8Array> {
  if (body === undefined) return new Uint8Array(0);
  if (body instanceof Uint8Array) return body;
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return Buffer.concat(chunks);
}
