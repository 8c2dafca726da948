import { connect, constants, type ClientHttp2Session } from "node:http2";

/** One pre-encoded unary call: what a raw HTTP/2 client sends, and how it tells success. */
export interface RawCall {
  path: string;
  headers: Record<string, string>;
  body: Buffer;
  /** gRPC reports its status in the trailers; Connect unary in the HTTP status. */
  protocol: "connect" | "grpc";
}

/**
 * A minimal HTTP/2 (h2c, prior knowledge) client that sends the same pre-encoded request over and
 * over on one session: it costs the load process far less CPU than a connect-node client, so on a
 * small machine the server, not the client, gets the CPU. It checks the status only (HTTP 200, and
 * `grpc-status: 0` for gRPC); the worker checks the answer's content once with a real client.
 */
export class RawH2Client {
  private readonly session: ClientHttp2Session;

  constructor(url: string) {
    this.session = connect(url);
    this.session.on("error", () => undefined);
  }

  /** Sends `call` once; resolves when the whole answer arrived, rejects on any failure. */
  send(call: RawCall): Promise<void> {
    return new Promise((resolve, reject) => {
      const stream = this.session.request({
        [constants.HTTP2_HEADER_METHOD]: "POST",
        [constants.HTTP2_HEADER_PATH]: call.path,
        ...call.headers,
      });
      let status = 0;
      let grpcStatus: string | undefined;
      let grpcMessage: string | undefined;
      stream.on("response", (headers) => {
        status = Number(headers[constants.HTTP2_HEADER_STATUS]);
        // A trailers-only gRPC answer (an error) carries grpc-status in the headers.
        if (headers["grpc-status"] !== undefined) grpcStatus = String(headers["grpc-status"]);
        if (headers["grpc-message"] !== undefined) grpcMessage = String(headers["grpc-message"]);
      });
      stream.on("trailers", (trailers) => {
        if (trailers["grpc-status"] !== undefined) grpcStatus = String(trailers["grpc-status"]);
        if (trailers["grpc-message"] !== undefined) grpcMessage = String(trailers["grpc-message"]);
      });
      let errorBody = "";
      stream.on("data", (chunk: Buffer) => {
        if (status !== 200 && errorBody.length < 300) errorBody += chunk.toString();
      });
      stream.on("error", reject);
      stream.on("end", () => {
        if (status !== 200) reject(new Error(`HTTP ${status}: ${errorBody.slice(0, 300)}`));
        else if (call.protocol === "grpc" && grpcStatus !== "0") reject(new Error(`grpc-status ${grpcStatus ?? "missing"}: ${grpcMessage ?? ""}`));
        else resolve();
      });
      stream.end(call.body);
    });
  }

  close(): void {
    this.session.close();
  }
}
