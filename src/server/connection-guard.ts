import http from "node:http";
import http2 from "node:http2";
import type net from "node:net";
import type { ConnectionLimits } from "../config/config.js";
import type { NodeServerRequest } from "./node-types.js";

/** Why the server cut a connection (or, for HTTP/2 `request_timeout`, one stream of it). */
export type ConnectionCut = "first_bytes_timeout" | "headers_timeout" | "request_timeout" | "idle_timeout" | "connection_limit";

/** What the listener reports about connections, for metrics. */
export interface ConnectionEvents {
  /** Counts an accepted connection as open until the returned function is called. */
  opened(): () => void;
  /** Counts a connection (or an HTTP/2 stream) cut by one of the {@link ConnectionLimits}. */
  cut(reason: ConnectionCut): void;
}

/** The HTTP/1.1 timeouts of a server, as Node's `http` options and properties name them. */
interface Http1Timeouts {
  headersTimeout: number;
  requestTimeout: number;
  keepAliveTimeout: number;
  connectionsCheckingInterval: number;
}

/** Applies the limits to the connections and requests of one listener. */
export interface ConnectionGuard {
  /** Node's HTTP/1.1 timeouts for these limits (checked by the server every `connectionsCheckingInterval`). */
  readonly http1: Http1Timeouts;
  /** Cuts `socket` unless `decided` is called within the headers timeout (protocol sniffing). */
  awaitFirstBytes(socket: net.Socket): { decided(): void };
  /** Counts the timeouts Node's HTTP/1.1 server applies to `socket`. */
  watchHttp1(socket: net.Socket): void;
  /** Closes `session` once it has been idle, without streams, for the idle timeout. */
  watchSession(session: http2.Http2Session): void;
  /** Notes the start of a request; HTTP/2 streams whose body has not arrived by the request timeout are cancelled. */
  watchRequest(req: NodeServerRequest): void;
}

/** Creates the {@link ConnectionGuard} of `limits`, reporting every cut to `events`. */
export function createConnectionGuard(limits: ConnectionLimits, events: ConnectionEvents): ConnectionGuard {
  // The request on each HTTP/1.1 socket, to tell a headers timeout from a body timeout.
  const currentRequest = new WeakMap<net.Socket, http.IncomingMessage>();
  return {
    http1: {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.idleTimeoutMs,
      // A deadline is noticed at most a tenth of it late (Node's default checks every 30 s).
      connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(limits.headersTimeoutMs / 10))),
    },
    awaitFirstBytes(socket) {
      const timer = setTimeout(() => {
        events.cut("first_bytes_timeout");
        socket.destroy();
      }, limits.headersTimeoutMs);
      socket.once("close", () => clearTimeout(timer));
      return { decided: () => clearTimeout(timer) };
    },
    watchHttp1(socket) {
      socket.on("error", (error: NodeJS.ErrnoException) => {
        if (error.code !== "ERR_HTTP_REQUEST_TIMEOUT") return;
        const req = currentRequest.get(socket);
        events.cut(req && !req.complete ? "request_timeout" : "headers_timeout");
      });
      // Node's HTTP/1.1 server sets a socket timeout only between requests (keepAliveTimeout).
      socket.on("timeout", () => events.cut("idle_timeout"));
    },
    watchSession(session) {
      let streams = 0;
      session.on("stream", (stream: http2.ServerHttp2Stream) => {
        streams += 1;
        stream.once("close", () => (streams -= 1));
      });
      // The timer restarts on every frame; a stream that is quiet but open (a health Watch) keeps it.
      session.setTimeout(limits.idleTimeoutMs, () => {
        if (streams > 0 || session.closed || session.destroyed) return;
        events.cut("idle_timeout");
        session.close();
      });
    },
    watchRequest(req) {
      if (!(req instanceof http2.Http2ServerRequest)) {
        currentRequest.set(req.socket, req);
        return;
      }
      const stream = req.stream;
      if (stream.endAfterHeaders) return;
      const timer = setTimeout(() => {
        if (stream.closed || stream.destroyed) return;
        events.cut("request_timeout");
        stream.close(http2.constants.NGHTTP2_CANCEL);
      }, limits.requestTimeoutMs);
      const clear = () => clearTimeout(timer);
      req.once("end", clear);
      stream.once("close", clear);
    },
  };
}
