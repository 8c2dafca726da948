import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../../gen/grpc/health/v1/health_pb.js";
import { startTestServer, type TestServer } from "../support/server.js";

describe("gRPC health and readiness of a running server", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer("embedded", ["--shutdown-timeout", "30"]);
  });
  afterAll(() => server?.close());

  it("serves grpc.health.v1 without credentials and turns NOT_SERVING the moment shutdown begins", async () => {
    const client = createClient(Health, createGrpcTransport({ baseUrl: server.url }));
    expect((await client.check({})).status).toBe(Status.SERVING);
    expect((await client.check({ service: "helios.query.v1.QueryService" })).status).toBe(Status.SERVING);
    expect((await fetch(`${server.url}/ready`)).status).toBe(200);

    const seen: Status[] = [];
    let closing: Promise<void> | undefined;
    const watched = (async () => {
      for await (const message of client.watch({})) {
        seen.push(message.status);
        if (seen.length === 1) closing = server.close();
      }
    })();
    await watched;
    expect(seen).toEqual([Status.SERVING, Status.NOT_SERVING]);
    // The watch ended by itself, so the drain did not have to wait out --shutdown-timeout (30 s).
    await closing;
  }, 20_000);
});
