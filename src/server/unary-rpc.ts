import type { DescMessage, DescMethod, DescMethodUnary, JsonWriteOptions, Message } from "@bufbuild/protobuf";
import { Code, ConnectError, type MethodImplSpec } from "@connectrpc/connect";
import { compressionNegotiate, createMethodSerializationLookup, type Compression, type MethodSerializationLookup } from "@connectrpc/connect/protocol";
import { codeToHttpStatus, errorToJsonBytes, parseTimeout as parseConnectTimeout } from "@connectrpc/connect/protocol-connect";
import { parseTimeout as parseGrpcTimeout, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { reasonOf } from "../errors/catalogue.js";
import { encodeBinary } from "./binary-codec.js";
import { unaryTarget, type CallOptions, type UnaryCaller, type UnaryTarget } from "./in-process-call.js";
import { jsonCodec, type JsonCodec } from "./json-codec.js";
import type { NodeServerRequest, NodeServerResponse } from "./node-types.js";
import { bodyTooLarge, readBody } from "./read-body.js";
import { noteRequestReason } from "./request-observer.js";

/** What the unary RPC path needs from the server. */
export interface UnaryRpcOptions {
  /** The implementation of every RPC, by method; the unary ones are served here. */
  implementations: ReadonlyMap<DescMethod, MethodImplSpec>;
  /** Runs calls through the interceptors every RPC runs through. */
  caller: UnaryCaller;
  maxBodyBytes: number;
  /** Offered for request and response bodies, as connect's handlers offer them. */
  compressions: Compression[];
  jsonOptions: Partial<JsonWriteOptions>;
}

/**
 * Serves a unary gRPC or Connect call if it takes this path; answers undefined, synchronously,
 * for a request it leaves to connect's handlers.
 */
export type UnaryRpc = (path: string, req: NodeServerRequest, res: NodeServerResponse) => Promise<void> | undefined;

/** A unary method with everything its calls need, prepared once. */
interface Route {
  method: DescMethodUnary;
  target: UnaryTarget;
  serialization: MethodSerializationLookup<DescMessage, DescMessage>;
  jsonOutput: JsonCodec<DescMethodUnary["output"]>;
}

/** The protocols served here: gRPC over HTTP/2 with protobuf, and Connect unary with protobuf or JSON. */
type Protocol = { name: "grpc"; binary: true } | { name: "connect"; binary: boolean };

const grpcProto: Protocol = { name: "grpc", binary: true };
const connectProto: Protocol = { name: "connect", binary: true };
const connectJson: Protocol = { name: "connect", binary: false };
const byContentType: ReadonlyMap<string, Protocol> = new Map<string, Protocol>([
  ["application/grpc", grpcProto],
  ["application/grpc+proto", grpcProto],
  ["application/proto", connectProto],
  ["application/json", connectJson],
  ["application/json; charset=utf-8", connectJson],
  ["application/json;charset=utf-8", connectJson],
]);

/** A gRPC message envelope: one flags byte and a four-byte length. */
const envelopeSize = 5;
/** Bodies smaller than this are sent uncompressed, as connect's default `compressMinBytes`. */
const compressMinBytes = 1024;

/**
 * Creates the lean path for unary gRPC and Connect calls: it reads the body, parses the input with
 * connect's own serialisers (same limits, same errors), runs the implementation through
 * {@link UnaryCaller} (the interceptors every call runs, composed once per method) and writes the
 * answer with one `end()`: binary from `encodeBinary`, which writes a query's rows straight from
 * their JSON, and JSON from the compiled codec. It follows connect's handlers on the wire
 * (compression negotiation, `grpc-timeout` and `connect-timeout-ms` deadlines, status trailers,
 * Connect's error JSON and `trailer-` headers), so clients cannot tell the two apart. Connect's
 * handlers keep what is left: gRPC-Web, gRPC over HTTP/1.1 or with JSON, Connect GET, streaming.
 */
export function createUnaryRpc(options: UnaryRpcOptions): UnaryRpc {
  const { maxBodyBytes, caller, compressions, jsonOptions } = options;
  const routes = new Map<string, Route>();
  for (const spec of options.implementations.values()) {
    if (spec.kind !== "unary") continue;
    const { method } = spec;
    routes.set(`/${method.parent.typeName}/${method.name}`, {
      method,
      target: unaryTarget(spec),
      serialization: createMethodSerializationLookup(method, undefined, jsonOptions, { readMaxBytes: maxBodyBytes, writeMaxBytes: 0xffffffff }),
      jsonOutput: jsonCodec(method.output),
    });
  }

  return (path, req, res) => {
    const route = routes.get(path);
    if (route === undefined || req.method !== "POST") return undefined;
    const protocol = byContentType.get(String(req.headers["content-type"] ?? "").toLowerCase());
    if (protocol === undefined || (protocol.name === "grpc" && req.httpVersionMajor !== 2)) return undefined;
    return protocol.name === "grpc" ? serveGrpc(route, req, res) : serveConnect(route, protocol.binary, req, res);
  };

  async function serveGrpc(route: Route, req: NodeServerRequest, res: NodeServerResponse): Promise<void> {
    const header = new Headers();
    const trailer = new Headers();
    let body: Buffer | undefined;
    let encoding: string | undefined;
    try {
      const compression = compressionNegotiate(compressions, headerOf(req, "grpc-encoding"), headerOf(req, "grpc-accept-encoding"), "grpc-accept-encoding");
      if (compression.error) throw compression.error;
      const timeout = parseGrpcTimeout(headerOf(req, "grpc-timeout"), Number.MAX_SAFE_INTEGER);
      if (timeout.error) throw timeout.error;
      const input = await readEnvelope(req, compression.request);
      const answer = await invoke(route, req, res, true, input, { protocolName: "grpc", header, trailer, timeoutMs: timeout.timeoutMs });
      body = encodeBinary(route.method.output, answer, envelopeSize);
      let flags = 0;
      if (compression.response && body.byteLength - envelopeSize >= compressMinBytes) {
        const compressed = await compression.response.compress(body.subarray(envelopeSize));
        body = Buffer.concat([Buffer.alloc(envelopeSize), compressed]);
        flags = 1;
        encoding = compression.response.name;
      }
      body[0] = flags;
      body.writeUInt32BE(body.byteLength - envelopeSize, 1);
      setTrailerStatus(trailer, undefined);
    } catch (error) {
      body = undefined;
      setTrailerStatus(trailer, connectErrorOf(error));
    }
    if (res.closed) return; // The client went away; nothing is left to answer.
    const head = record(header);
    head["content-type"] = "application/grpc+proto";
    if (encoding !== undefined) head["grpc-encoding"] = encoding;
    res.writeHead(200, head);
    res.addTrailers(record(trailer));
    if (body === undefined) res.end();
    else res.end(body);
  }

  async function serveConnect(route: Route, binary: boolean, req: NodeServerRequest, res: NodeServerResponse): Promise<void> {
    const header = new Headers();
    const trailer = new Headers();
    const compression = compressionNegotiate(compressions, headerOf(req, "content-encoding"), headerOf(req, "accept-encoding"), "accept-encoding");
    let status = 200;
    let body: Buffer;
    try {
      if (compression.error) throw compression.error;
      const timeout = parseConnectTimeout(headerOf(req, "connect-timeout-ms"), Number.MAX_SAFE_INTEGER);
      if (timeout.error) throw timeout.error;
      const input = await readUnaryBody(req, compression.request);
      const answer = await invoke(route, req, res, binary, input, { protocolName: "connect", header, trailer, timeoutMs: timeout.timeoutMs });
      header.set("content-type", binary ? "application/proto" : "application/json");
      body = binary ? encodeBinary(route.method.output, answer) : Buffer.from(JSON.stringify(route.jsonOutput.encode(answer)));
    } catch (caught) {
      const error = connectErrorOf(caught);
      status = codeToHttpStatus(error.code);
      header.set("content-type", "application/json");
      error.metadata.forEach((value, key) => header.set(key, value));
      body = Buffer.from(errorToJsonBytes(error, jsonOptions));
    }
    if (compression.response && body.byteLength >= compressMinBytes) {
      body = Buffer.from(await compression.response.compress(body));
      header.set("content-encoding", compression.response.name);
    }
    if (res.closed) return;
    const head = record(header);
    trailer.forEach((value, key) => (head[`trailer-${key}`] = value));
    head["content-length"] = String(body.byteLength);
    res.writeHead(status, head);
    res.end(body);
  }

  /** Parses the request's message and runs the call through the interceptors; resolves its answer. */
  async function invoke(route: Route, req: NodeServerRequest, res: NodeServerResponse, binary: boolean, input: Uint8Array, options: CallOptions): Promise<Message> {
    const message = route.serialization.getI(binary).parse(input);
    return (await caller.call(route.method, route.target, req, res, message, options)).message;
  }

  /** The one message of a unary gRPC request, decompressed. */
  async function readEnvelope(req: NodeServerRequest, compression: Compression | null): Promise<Uint8Array> {
    const body = await readBody(req, maxBodyBytes + envelopeSize);
    if (body === "too_large") throw bodyTooLarge(maxBodyBytes);
    if (body.byteLength < envelopeSize) {
      throw new ConnectError(`protocol error: ${body.byteLength === 0 ? "missing input message for unary method" : "incomplete envelope"}`, Code.Unimplemented);
    }
    const length = body.readUInt32BE(1);
    if (body.byteLength < envelopeSize + length) throw new ConnectError("protocol error: promised " + String(length) + " bytes in enveloped message, got less", Code.InvalidArgument);
    if (body.byteLength > envelopeSize + length) throw new ConnectError("protocol error: received extra input message for unary method", Code.Unimplemented);
    const message = body.subarray(envelopeSize);
    const flags = body[0] ?? 0;
    if ((flags & 1) === 0) return message;
    if (compression === null) throw new ConnectError("protocol error: received compressed envelope, but do not know how to decompress", Code.Internal);
    return decompress(compression, message);
  }

  /** The body of a unary Connect request, decompressed. */
  async function readUnaryBody(req: NodeServerRequest, compression: Compression | null): Promise<Uint8Array> {
    const body = await readBody(req, maxBodyBytes);
    if (body === "too_large") throw bodyTooLarge(maxBodyBytes);
    return compression === null ? body : decompress(compression, body);
  }

  /** Decompresses up to the body limit, which a larger inflated message fails with as a large body would. */
  async function decompress(compression: Compression, data: Uint8Array): Promise<Uint8Array> {
    try {
      return await compression.decompress(data, maxBodyBytes);
    } catch (error) {
      const connectError = ConnectError.from(error);
      throw connectError.code === Code.ResourceExhausted ? bodyTooLarge(maxBodyBytes) : connectError;
    }
  }
}

/** What a failed call answers: ConnectErrors as they are, anything else as an internal error. */
function connectErrorOf(error: unknown): ConnectError {
  const connectError = error instanceof ConnectError ? error : new ConnectError("internal error", Code.Internal, undefined, undefined, error);
  noteRequestReason(reasonOf(connectError));
  return connectError;
}

function headerOf(req: NodeServerRequest, name: string): string | null {
  const value = req.headers[name];
  return value === undefined ? null : Array.isArray(value) ? value.join(", ") : value;
}

function record(headers: Headers): Record<string, string> {
  const result: Record<string, string> = {};
  headers.forEach((value, name) => (result[name] = value));
  return result;
}
