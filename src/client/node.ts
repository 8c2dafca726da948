import type { Interceptor, Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
  Http2SessionManager,
} from "@connectrpc/connect-node";
import type http2 from "node:http2";
import type https from "node:https";
import { createHeliosClientWithTransport, type HeliosClientCoreOptions } from "./helios-client.js";
import type { HeliosClient } from "./types.js";

export * from "./index.js";

/** Protocols Node speaks to the server. */
export type NodeTransportKind = "connect" | "grpc" | "grpc-web";

/** Options of the Node {@link createHeliosClient}. */
export interface NodeHeliosClientOptions extends HeliosClientCoreOptions {
  /** The server, e.g. `http://localhost:6543`. */
  baseUrl: string;
  /** Default "connect" (JSON over HTTP). */
  transport?: NodeTransportKind;
  /**
   * HTTP version of the Connect transport (default "1.1"). gRPC always uses HTTP/2 (h2c on
   * `http://`), gRPC-Web always HTTP/1.1.
   */
  httpVersion?: "1.1" | "2";
  /** Protobuf binary instead of JSON (Connect only; gRPC and gRPC-Web are always binary). */
  useBinaryFormat?: boolean;
  interceptors?: Interceptor[];
  /** TLS options, such as a private CA (`ca`), for `https://` servers. */
  tls?: Pick<https.RequestOptions & http2.SecureClientSessionOptions, "ca" | "cert" | "key" | "rejectUnauthorized" | "servername">;
}

/**
 * Creates a client for Node over `@connectrpc/connect-node`: Connect (HTTP/1.1 or HTTP/2), gRPC
 * (HTTP/2) or gRPC-Web (HTTP/1.1). `close()` releases its HTTP/2 session.
 */
export function createHeliosClient(options: NodeHeliosClientOptions): HeliosClient {
  const { baseUrl, transport = "connect", httpVersion = "1.1", useBinaryFormat, interceptors, tls = {}, ...core } = options;
  let sessionManager: Http2SessionManager | undefined;
  const http2Options = () => {
    sessionManager = new Http2SessionManager(baseUrl, {}, tls);
    return { httpVersion: "2" as const, sessionManager };
  };
  let chosen: Transport;
  switch (transport) {
    case "grpc":
      chosen = createGrpcTransport({ baseUrl, interceptors, ...http2Options() });
      break;
    case "grpc-web":
      chosen = createGrpcWebTransport({ baseUrl, interceptors, httpVersion: "1.1", nodeOptions: tls });
      break;
    case "connect":
      chosen = createConnectTransport({
        baseUrl,
        interceptors,
        useBinaryFormat: useBinaryFormat ?? false,
        ...(httpVersion === "2" ? http2Options() : { httpVersion: "1.1" as const, nodeOptions: tls }),
      });
      break;
  }
  return createHeliosClientWithTransport(chosen, {
    ...core,
    closeTransport: () => {
      sessionManager?.abort();
      core.closeTransport?.();
    },
  });
}
