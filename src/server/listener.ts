import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { readFile } from "node:fs/promises";
import type { Logger } from "../logging/logger.js";
import type { ConnectionLimits } from "../config/config.js";
import { createConnectionGuard, type ConnectionEvents, type ConnectionGuard } from "./connection-guard.js";
import type { NodeHandlerFn, NodeServerResponse } from "./node-types.js";
import { describeListenError } from "./port-check.js";

/** Where and how to listen. */
export interface ListenOptions {
  host: string;
  port: number;
  tls: { certFile: string; keyFile: string } | undefined;
  handler: NodeHandlerFn;
  /** Deadlines and the connection cap. */
  limits: ConnectionLimits;
  /** Where connections opened and cut are reported. */
  events: ConnectionEvents;
  logger: Logger;
}

/** A bound port serving HTTP/1.1 and HTTP/2 (h2c with prior knowledge, or TLS with ALPN). */
export interface Listener {
  readonly port: number;
  /** Stops accepting, lets in-flight requests finish for up to `drainMs`, then cuts what is left. */
  close(drainMs: number): Promise<void>;
}

const http2Preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/**
 * Listens on one port for every protocol. Cleartext connections are sniffed: the HTTP/2 preface
 * goes to an `http2` server (gRPC, h2c Connect), anything else to an `http` server (curl, fetch,
 * gRPC-Web). With TLS, ALPN chooses between h2 and http/1.1.
 */
export async function listen(options: ListenOptions): Promise<Listener> {
  const guard = createConnectionGuard(options.limits, options.events);
  const inFlight = new Set<NodeServerResponse>();
  let idle: (() => void) | undefined;
  let draining = false;
  // An HTTP/1.1 response that has not started yet ends its connection, so that no further request
  // can arrive on it while draining (and be cut when the last connections are closed).
  const closeConnectionAfter = (res: NodeServerResponse) => {
    if ("shouldKeepAlive" in res && !res.headersSent) res.setHeader("connection", "close");
  };
  const handler: NodeHandlerFn = (req, res) => {
    inFlight.add(res);
    if (draining) closeConnectionAfter(res);
    res.once("close", () => {
      inFlight.delete(res);
      if (inFlight.size === 0) idle?.();
    });
    guard.watchRequest(req);
    options.handler(req, res);
  };

  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.Http2Session>();
  const trackSession = (session: http2.Http2Session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    guard.watchSession(session);
  };

  let server: net.Server;
  let h1: http.Server | undefined;
  if (options.tls) {
    const [cert, key] = await Promise.all([readFile(options.tls.certFile), readFile(options.tls.keyFile)]);
    const secure = http2.createSecureServer(
      { cert, key, allowHTTP1: true, handshakeTimeout: options.limits.headersTimeoutMs },
      handler,
    );
    // The HTTP/1.1 fallback reads these from the secure server, whose listen() starts Node's checks.
    Object.assign(secure, guard.http1);
    secure.on("session", trackSession);
    secure.on("secureConnection", (socket: net.Socket & { alpnProtocol?: string | false }) => {
      if (socket.alpnProtocol !== "h2") guard.watchHttp1(socket);
    });
    secure.on("tlsClientError", (error: NodeJS.ErrnoException) => {
      if (error.code === "ERR_TLS_HANDSHAKE_TIMEOUT") options.events.cut("first_bytes_timeout");
    });
    server = secure;
  } else {
    const plain = http.createServer(guard.http1, handler);
    // Node checks headersTimeout and requestTimeout on a timer that the server's "listening" event
    // starts (as http2's TLS server does for its HTTP/1.1 fallback). This server is handed sockets
    // by the sniffer and never listens itself, so it is told here.
    plain.emit("listening");
    h1 = plain;
    const h2 = http2.createServer(handler);
    h2.on("session", trackSession);
    server = net.createServer((socket) => sniff(socket, plain, h2, guard));
  }
  server.maxConnections = options.limits.maxConnections;
  server.on("drop", () => options.events.cut("connection_limit"));
  server.on("connection", (socket: net.Socket) => {
    sockets.add(socket);
    const closed = options.events.opened();
    socket.once("close", () => {
      sockets.delete(socket);
      closed();
    });
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error) => reject(describeListenError(error, options.host, options.port));
    server.once("error", onError);
    server.listen(options.port, options.host, () => {
      server.off("error", onError);
      resolve();
    });
  });
  // Accepting can fail later (EMFILE when file descriptors run out): the server keeps listening.
  server.on("error", (error: NodeJS.ErrnoException) => options.logger.warn({ code: error.code }, "accepting a connection failed"));
  const address = server.address() as net.AddressInfo;

  async function close(drainMs: number): Promise<void> {
    draining = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const res of inFlight) closeConnectionAfter(res);
    for (const session of sessions) session.close();
    h1?.closeIdleConnections();
    if (inFlight.size > 0) {
      await new Promise<void>((resolve) => {
        idle = resolve;
        setTimeout(resolve, drainMs).unref();
      });
    }
    h1?.closeAllConnections();
    h1?.close();
    for (const session of sessions) session.destroy();
    for (const socket of sockets) socket.destroy();
    await closed;
  }

  return { port: address.port, close };
}

function sniff(socket: net.Socket, h1: http.Server, h2: http2.Http2Server, guard: ConnectionGuard): void {
  const firstBytes = guard.awaitFirstBytes(socket);
  let received = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
    const n = Math.min(received.length, http2Preface.length);
    const isPrefix = received.subarray(0, n).equals(http2Preface.subarray(0, n));
    if (isPrefix && received.length < http2Preface.length) return;
    socket.off("data", onData);
    firstBytes.decided();
    socket.pause();
    socket.unshift(received);
    if (isPrefix) {
      // http2 reads the unshifted bytes itself; resuming here would hand them to nobody.
      h2.emit("connection", socket);
    } else {
      guard.watchHttp1(socket);
      h1.emit("connection", socket);
      socket.resume();
    }
  };
  socket.on("data", onData);
  socket.on("error", () => socket.destroy());
}
