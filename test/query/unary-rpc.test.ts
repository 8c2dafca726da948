import http2 from "node:http2";
import { gzipSync } from "node:zlib";
import { fromBinary, toBinary, create } from "@bufbuild/protobuf";
import { Code, createClient } from "@connectrpc/connect";
import { compressionGzip, createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QueryRequestSchema, QueryResponseSchema, QueryService } from "../../gen/helios/query/v1/query_pb.js";
import { generousLimits, rpcFailure } from "../auth/support/auth-api.js";
import { member, type Member } from "../support/members.js";
import { startTestServer, type TestServer } from "../support/server.js";

/** What a raw gRPC call over h2c got back. */
interface RawAnswer {
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders;
  body: Buffer;
}

/** One gRPC call with hand-made headers and body, to see the wire as a client would. */
async function rawGrpc(url: string, path: string, headers: Record<string, string>, body: Buffer): Promise<RawAnswer> {
  const session = http2.connect(url);
  try {
    return await new Promise<RawAnswer>((resolve, reject) => {
      const stream = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers", ...headers });
      const chunks: Buffer[] = [];
      let answer: Pick<RawAnswer, "headers" | "trailers"> = { headers: {}, trailers: {} };
      stream.on("response", (received) => (answer = { ...answer, headers: received }));
      stream.on("trailers", (received) => (answer = { ...answer, trailers: received }));
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => resolve({ ...answer, body: Buffer.concat(chunks) }));
      stream.on("error", reject);
      stream.end(body);
    });
  } finally {
    session.close();
  }
}

/** A gRPC envelope around `message`. */
function envelope(message: Uint8Array, compressed = false): Buffer {
  const head = Buffer.alloc(5);
  head[0] = compressed ? 1 : 0;
  head.writeUInt32BE(message.byteLength, 1);
  return Buffer.concat([head, message]);
}

describe("unary gRPC and Connect calls on the lean path", () => {
  let server: TestServer;
  let owner: pg.Client;
  let acme: Member;
  const path = `/${QueryService.typeName}/${QueryService.method.query.name}`;
  // Long enough for compression (connect compresses from 1 KiB), short of the SQL limit.
  const padded = "x".repeat(3000);
  const sql = "SELECT $1::text AS padded, 1 AS n";

  beforeAll(async () => {
    server = await startTestServer("embedded", generousLimits);
    owner = new pg.Client({ connectionString: server.storage.ownerUrl });
    await owner.connect();
    acme = await member(server, owner, "acme", ["read", "write"]);
  });
  afterAll(async () => {
    await owner?.end();
    await server?.close();
  });

  it.each([
    ["Connect binary over h2c", () => createConnectTransport({ baseUrl: server.url, httpVersion: "2", useBinaryFormat: true, sendCompression: compressionGzip, acceptCompression: [compressionGzip] })],
    ["Connect JSON over HTTP/1.1", () => createConnectTransport({ baseUrl: server.url, httpVersion: "1.1", sendCompression: compressionGzip, acceptCompression: [compressionGzip] })],
    ["gRPC over h2c", () => createGrpcTransport({ baseUrl: server.url, sendCompression: compressionGzip, acceptCompression: [compressionGzip] })],
  ])("takes and answers gzip over %s", async (_name, transport) => {
    const client = createClient(QueryService, transport());
    const response = await client.query({ sql, params: [{ kind: { case: "stringValue", value: padded } }] }, { headers: { authorization: `Bearer ${acme.token}` }, timeoutMs: 30_000 });
    expect(response.rows[0]?.kind).toMatchObject({ case: "structValue" });
    const row = response.rows[0]?.kind.case === "structValue" ? response.rows[0].kind.value.fields : {};
    expect(row.padded?.kind).toEqual({ case: "stringValue", value: padded });
    expect(row.n?.kind).toEqual({ case: "numberValue", value: 1 });
  });

  it("compresses a Connect answer the client accepts gzip for, and decompresses its gzip body", async () => {
    const body = gzipSync(JSON.stringify({ sql, params: [padded] }));
    const res = await fetch(`${server.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", "content-encoding": "gzip", "accept-encoding": "gzip", authorization: `Bearer ${acme.token}` },
      body,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-encoding")).toBe("gzip");
    expect(await res.json()).toMatchObject({ rows: [{ padded, n: 1 }], row_count: 1, command: "SELECT" });
    const unknownEncoding = await fetch(`${server.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", "content-encoding": "zstd", authorization: `Bearer ${acme.token}` },
      body: JSON.stringify({ sql }),
    });
    expect(unknownEncoding.status).toBe(501);
    expect(unknownEncoding.headers.get("accept-encoding")).toBe("gzip,br");
    expect(await unknownEncoding.json()).toMatchObject({ code: "unimplemented" });
  });

  it("answers a gRPC call with its message and status trailers, and protocol errors as connect does", async () => {
    const auth = { authorization: `Bearer ${acme.token}` };
    const request = toBinary(QueryRequestSchema, create(QueryRequestSchema, { sql: "SELECT 41 + 1 AS answer" }));
    const ok = await rawGrpc(server.url, path, { ...auth, "grpc-timeout": "10S" }, envelope(request));
    expect(ok.headers[":status"]).toBe(200);
    expect(ok.headers["content-type"]).toBe("application/grpc+proto");
    expect(ok.trailers["grpc-status"]).toBe("0");
    expect(ok.body.readUInt32BE(1)).toBe(ok.body.byteLength - 5);
    const answer = fromBinary(QueryResponseSchema, ok.body.subarray(5));
    expect(answer.rows[0]?.kind.case === "structValue" && answer.rows[0].kind.value.fields.answer?.kind).toEqual({ case: "numberValue", value: 42 });

    const compressed = await rawGrpc(server.url, path, { ...auth, "grpc-encoding": "gzip" }, envelope(gzipSync(request), true));
    expect(compressed.trailers["grpc-status"]).toBe("0");

    const badTimeout = await rawGrpc(server.url, path, { ...auth, "grpc-timeout": "soon" }, envelope(request));
    expect(badTimeout.trailers["grpc-status"]).toBe(String(Code.InvalidArgument));
    expect(decodeURIComponent(String(badTimeout.trailers["grpc-message"]))).toContain("invalid grpc timeout value");

    const empty = await rawGrpc(server.url, path, auth, Buffer.alloc(0));
    expect(empty.trailers["grpc-status"]).toBe(String(Code.Unimplemented));
    const twice = await rawGrpc(server.url, path, auth, Buffer.concat([envelope(request), envelope(request)]));
    expect(decodeURIComponent(String(twice.trailers["grpc-message"]))).toContain("extra input message");
    const cut = await rawGrpc(server.url, path, auth, envelope(request).subarray(0, 8));
    expect(cut.trailers["grpc-status"]).toBe(String(Code.InvalidArgument));
    const garbage = await rawGrpc(server.url, path, auth, envelope(Buffer.from([0xff, 0xff, 0xff])));
    expect(Number(garbage.trailers["grpc-status"])).not.toBe(0);

    const unauthenticated = await rawGrpc(server.url, path, {}, envelope(request));
    expect(unauthenticated.trailers["grpc-status"]).toBe(String(Code.Unauthenticated));
    expect(unauthenticated.trailers["grpc-status-details-bin"]).toBeDefined();
  });

  it.each(["connect", "grpc"] as const)("refuses an oversized %s body as payload_too_large, naming the limit and its flag", async (protocol) => {
    const transport = protocol === "connect" ? createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" }) : createGrpcTransport({ baseUrl: server.url });
    const huge = "y".repeat(2 * 1024 * 1024);
    const failure = await createClient(QueryService, transport)
      .query({ sql, params: [{ kind: { case: "stringValue", value: huge } }] }, { headers: { authorization: `Bearer ${acme.token}` } })
      .catch(rpcFailure);
    expect(failure).toMatchObject({
      reason: "payload_too_large",
      code: Code.ResourceExhausted,
      message: expect.stringContaining("--max-body-bytes"),
      details: { limit: expect.any(String) },
    });
  });
});
