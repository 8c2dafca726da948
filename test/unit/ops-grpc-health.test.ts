import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../../gen/grpc/health/v1/health_pb.js";
import { AuthService } from "../../gen/helios/auth/v1/auth_pb.js";
import { registerHealth } from "../../src/server/grpc-health.js";
import { createServingState } from "../../src/server/serving-state.js";

function setup(watchIntervalMs = 20) {
  const storage = { up: true };
  const state = createServingState(async () => storage.up);
  const transport = createRouterTransport((router) => registerHealth(router, { state, services: [AuthService], watchIntervalMs }));
  return { storage, state, client: createClient(Health, transport) };
}

describe("grpc.health.v1", () => {
  it("answers SERVING for the server and its services, NOT_FOUND for unknown names", async () => {
    const { client } = setup();
    expect((await client.check({})).status).toBe(Status.SERVING);
    expect((await client.check({ service: "helios.auth.v1.AuthService" })).status).toBe(Status.SERVING);
    expect((await client.check({ service: "grpc.health.v1.Health" })).status).toBe(Status.SERVING);
    const error = await client.check({ service: "nope.Service" }).catch((e: unknown) => ConnectError.from(e));
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.NotFound);
  });

  it("answers NOT_SERVING while storage is down and once shutdown has begun", async () => {
    const { client, storage, state } = setup();
    storage.up = false;
    expect((await client.check({})).status).toBe(Status.NOT_SERVING);
    storage.up = true;
    state.beginShutdown();
    expect((await client.check({})).status).toBe(Status.NOT_SERVING);
    expect(await state.readiness()).toEqual({ ready: false, reason: "shutting down" });
  });

  it("lists every service with its status", async () => {
    const { client } = setup();
    const { statuses } = await client.list({});
    expect(Object.keys(statuses).sort()).toEqual(["grpc.health.v1.Health", "helios.auth.v1.AuthService"]);
    expect(statuses["helios.auth.v1.AuthService"]?.status).toBe(Status.SERVING);
  });

  it("watches: the current status, each change, then NOT_SERVING and the end of the stream at shutdown", async () => {
    const { client, storage, state } = setup();
    const seen: Status[] = [];
    const watching = (async () => {
      for await (const message of client.watch({})) {
        seen.push(message.status);
        if (seen.length === 1) storage.up = false;
        if (seen.length === 2) state.beginShutdown();
      }
    })();
    await watching;
    expect(seen).toEqual([Status.SERVING, Status.NOT_SERVING]);
  });

  it("ends a watch at shutdown even when nothing changed, and answers SERVICE_UNKNOWN for unknown names", async () => {
    const { client, state } = setup(60_000);
    const seen: Status[] = [];
    for await (const message of client.watch({ service: "nope.Service" })) {
      seen.push(message.status);
      state.beginShutdown();
    }
    expect(seen).toEqual([Status.SERVICE_UNKNOWN]);
    const after: Status[] = [];
    for await (const message of client.watch({})) after.push(message.status);
    expect(after).toEqual([Status.NOT_SERVING]);
  });
});
