import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthService } from "../gen/helios/auth/v1/auth_pb.js";
import { ErrorInfoSchema } from "../gen/google/rpc/error_details_pb.js";
import { backends, startTestServer, type TestServer } from "./support/server.js";
import { freshDataDir, removeDataDir } from "./support/postgres.js";

const run = promisify(execFile);
const buf = join(import.meta.dirname, "..", "node_modules", ".bin", "buf");

/** The reason of an RPC error, from its google.rpc.ErrorInfo detail. */
function reasonOf(error: unknown): string | undefined {
  return ConnectError.from(error).findDetails(ErrorInfoSchema)[0]?.reason;
}

describe.each(backends)("platform on %s storage", (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(backend);
  });
  afterAll(() => server?.close());

  it("answers liveness and readiness as JSON", async () => {
    const health = await fetch(`${server.url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok" });
    const ready = await fetch(`${server.url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready" });
  });

  it("answers an unknown path with a 404 catalogue error", async () => {
    const res = await fetch(`${server.url}/nope`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: "not_found" });
  });

  it("answers a wrong method with 405 and Allow", async () => {
    const res = await fetch(`${server.url}/auth/v1/signup`, { method: "GET" });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("POST");
    expect(await res.json()).toMatchObject({ error: "method_not_allowed" });
  });

  it("rejects malformed JSON, wrong content types, unknown fields and wrong types on REST", async () => {
    const post = (body: string, contentType = "application/json") =>
      fetch(`${server.url}/auth/v1/signup`, { method: "POST", headers: { "content-type": contentType }, body });
    const malformed = await post("{nope");
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ error: "bad_json" });
    const xml = await post("<a/>", "application/xml");
    expect(xml.status).toBe(415);
    expect(await xml.json()).toMatchObject({ error: "unsupported_media_type" });
    const unknown = await post(JSON.stringify({ email: "a@b.co", password: "x", admin: true }));
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toMatchObject({ error: "validation_failed" });
    const wrongType = await post(JSON.stringify({ email: 42, password: ["x"] }));
    expect(wrongType.status).toBe(400);
    expect(await wrongType.json()).toMatchObject({ error: "validation_failed" });
    const notObject = await post("[1,2]");
    expect(notObject.status).toBe(400);
    expect(await notObject.json()).toMatchObject({ error: "validation_failed" });
  });

  it("rejects an oversized body with 413 on REST and resource_exhausted on RPC", async () => {
    const big = JSON.stringify({ email: "a@b.co", password: "x".repeat(2 * 1024 * 1024) });
    const res = await fetch(`${server.url}/auth/v1/signup`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: big,
    });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: "payload_too_large" });
    const client = createClient(AuthService, createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" }));
    await expect(client.signUp({ email: "a@b.co", password: "x".repeat(2 * 1024 * 1024) })).rejects.toMatchObject({
      code: Code.ResourceExhausted,
    });
  });
});

describe("protocols on one port", () => {
  let server: TestServer;
  let tlsServer: TestServer;
  let certDir: string;
  beforeAll(async () => {
    certDir = freshDataDir("cert");
    await run("openssl", [
      "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
      "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
      "-keyout", join(certDir, "key.pem"), "-out", join(certDir, "cert.pem"),
    ]);
    server = await startTestServer("embedded");
    tlsServer = await startTestServer("embedded", [
      "--tls-cert", join(certDir, "cert.pem"), "--tls-key", join(certDir, "key.pem"),
    ]);
  });
  afterAll(async () => {
    await server?.close();
    await tlsServer?.close();
    await removeDataDir(certDir);
  });

  const transports: [string, () => Transport][] = [
    ["Connect JSON over HTTP/1.1", () => createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" })],
    ["Connect binary over h2c", () => createConnectTransport({ baseUrl: server.url, httpVersion: "2", useBinaryFormat: true })],
    ["gRPC over h2c", () => createGrpcTransport({ baseUrl: server.url })],
    ["gRPC-Web over HTTP/1.1", () => createGrpcWebTransport({ baseUrl: server.url, httpVersion: "1.1" })],
    [
      "gRPC over TLS (h2 via ALPN)",
      () =>
        createGrpcTransport({
          baseUrl: tlsServer.url.replace("127.0.0.1", "localhost"),
          nodeOptions: { ca: readFileSync(join(certDir, "cert.pem")) },
        }),
    ],
    [
      "Connect over TLS (http/1.1 via ALPN)",
      () =>
        createConnectTransport({
          baseUrl: tlsServer.url.replace("127.0.0.1", "localhost"),
          httpVersion: "1.1",
          nodeOptions: { ca: readFileSync(join(certDir, "cert.pem")) },
        }),
    ],
  ];

  it.each(transports)("%s reaches the handler and carries the error model", async (_name, transport) => {
    const client = createClient(AuthService, transport());
    const error = await client.getUser({}).catch((e: unknown) => ConnectError.from(e));
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.Unauthenticated);
    expect(reasonOf(error)).toBe("unauthorized");
  });

  it("lists services over gRPC reflection with buf curl", async () => {
    const { stdout } = await run(buf, ["curl", "--http2-prior-knowledge", "--list-services", server.url]);
    const services = stdout.trim().split("\n");
    expect(services).toEqual(
      expect.arrayContaining([
        "helios.auth.v1.AuthService",
        "helios.query.v1.QueryService",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
      ]),
    );
  });

  it("describes and calls a method through reflection alone with buf curl", async () => {
    const { stdout } = await run(buf, [
      "curl", "--http2-prior-knowledge", "--list-methods", server.url,
    ]);
    expect(stdout).toContain("helios.auth.v1.AuthService/SignUp");
    const call = await run(buf, [
      "curl", "--http2-prior-knowledge", "--protocol", "grpc", "-d", "{}",
      `${server.url}/helios.auth.v1.AuthService/GetUser`,
    ]).catch((error: { stderr: string; code: number }) => error);
    expect("stderr" in call ? call.stderr : "").toContain("unauthenticated");
  });

  it("serves REST over TLS with HTTP/1.1", async () => {
    const { stdout } = await run("curl", [
      "-sS", "--cacert", join(certDir, "cert.pem"), `${tlsServer.url.replace("127.0.0.1", "localhost")}/health`,
    ]);
    expect(JSON.parse(stdout)).toEqual({ status: "ok" });
  });
});
