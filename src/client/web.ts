import type { Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { createHeliosClientWithTransport, type HeliosClientCoreOptions } from "./helios-client.js";
import type { HeliosClient } from "./types.js";

/** Protocols a browser can speak to the server (gRPC needs HTTP/2 trailers, which fetch lacks). */
export type WebTransportKind = "connect" | "grpc-web";

/** Options of the browser {@link createHeliosClient}. */
export interface WebHeliosClientOptions extends HeliosClientCoreOptions {
  /** The server, e.g. `https://db.example.com` (CORS allows any origin unless `--cors-origins` narrows it). */
  baseUrl: string;
  /** Default "connect" (JSON over HTTP). */
  transport?: WebTransportKind;
  /** Protobuf binary instead of JSON (Connect only; gRPC-Web is always binary). */
  useBinaryFormat?: boolean;
  interceptors?: Interceptor[];
  /** Default: the global `fetch`. */
  fetch?: typeof globalThis.fetch;
}

/**
 * Creates a client for browsers (and any runtime with `fetch`) over `@connectrpc/connect-web`:
 * Connect or gRPC-Web.
 */
export function createHeliosClient(options: WebHeliosClientOptions): HeliosClient {
  const { baseUrl, transport = "connect", useBinaryFormat, interceptors, fetch, ...core } = options;
  const common = { baseUrl, interceptors, fetch };
  const chosen =
    transport === "grpc-web"
      ? createGrpcWebTransport(common)
      : createConnectTransport({ ...common, useBinaryFormat: useBinaryFormat ?? false });
  return createHeliosClientWithTransport(chosen, core);
}
