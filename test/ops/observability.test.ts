import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthService } from "../../gen/helios/auth/v1/auth_pb.js";
import { adminRest, cliKey } from "../admin/support/admin-api.js";
import { createSecretLedger, generousLimits, rest, type SessionJson } from "../auth/support/auth-api.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { bearer, errorOf, getUser, query, refresh, sample, signIn, signUp } from "./support/api.js";

interface LogLine {
  msg?: string;
  reqId?: string;
  route?: string;
  path?: string;
  status?: number;
  reason?: string;
}

describe("logs, request ids and metrics of a full run", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer("embedded", generousLimits);
  });
  afterAll(() => server?.close());

  it("logs every request with its id, never a secret, and counts it all in /metrics", async () => {
    const ledger = createSecretLedger();
    const { url } = server;
    ledger.add(new URL(server.storage.ownerUrl).password, server.config.auth.jwtSecret);

    const user = await signUp(url);
    ledger.addUser({ email: user.email, password: user.password, session: user.session });
    expect(errorOf(await signIn(url, user.email, `${user.password}-wrong`))).toBe("invalid_credentials");
    ledger.add(`${user.password}-wrong`);
    const signedIn = (await signIn(url, user.email, user.password)).body as SessionJson;
    ledger.addSession(signedIn);
    const refreshed = (await refresh(url, signedIn.refresh_token)).body as SessionJson;
    ledger.addSession(refreshed);
    expect((await getUser(url, refreshed.access_token)).status).toBe(200);
    expect((await query(url, refreshed.access_token, "select 1 as one")).status).toBe(200);
    for (const transport of [
      createConnectTransport({ baseUrl: url, httpVersion: "1.1" }),
      createGrpcTransport({ baseUrl: url }),
    ]) {
      const client = createClient(AuthService, transport);
      expect((await client.getUser({}, { headers: bearer(refreshed.access_token) })).email).toBe(user.email);
    }

    const adminKey = await cliKey(server, "admin");
    ledger.add(adminKey);
    const admin = adminRest(url, adminKey);
    const { key: readKey, api_key: described } = await admin.createKey({ scopes: ["read"] });
    ledger.add(readKey);
    expect((await rest(url, "GET", `/api/v1/query?sql=select%201&apikey=${encodeURIComponent(readKey)}`)).status).toBe(200);
    expect((await rest(url, "GET", "/auth/v1/user", { headers: { "x-api-key": readKey } })).status).toBe(200);
    expect((await admin.call("DELETE", `/admin/v1/keys/${described.id}`)).status).toBe(200);
    expect(errorOf(await rest(url, "GET", "/auth/v1/user", { headers: { authorization: `Bearer ${readKey}` } }))).toBe("invalid_api_key");
    expect(errorOf(await getUser(url, "not-a-token"))).toBe("invalid_token");
    expect((await rest(url, "POST", "/auth/v1/logout", { headers: bearer(refreshed.access_token) })).status).toBeLessThan(300);

    // A sane incoming request id is kept and echoed; anything else is replaced.
    const echoed = await fetch(`${url}/auth/v1/user`, { headers: { "x-request-id": "trace-42", ...bearer(user.session.access_token) } });
    expect(echoed.headers.get("x-request-id")).toBe("trace-42");
    const replaced = await fetch(`${url}/health`, { headers: { "x-request-id": readKey } });
    expect(replaced.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);

    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(sample(metrics, "helios_requests_total", { route: "helios.auth.v1.AuthService/Token", reason: "invalid_credentials", code: "unauthenticated" })).toBe(1);
    expect(sample(metrics, "helios_requests_total", { route: "helios.auth.v1.AuthService/GetUser", protocol: "grpc", code: "ok" })).toBe(1);
    expect(sample(metrics, "helios_requests_total", { route: "helios.auth.v1.AuthService/GetUser", reason: "invalid_api_key" })).toBe(1);
    expect(sample(metrics, "helios_request_duration_seconds_count", { route: "helios.query.v1.QueryService/Query" })).toBe(1);
    expect(sample(metrics, "helios_sign_ups_total")).toBe(1);
    expect(sample(metrics, "helios_sign_ins_total")).toBe(1);
    expect(sample(metrics, "helios_refreshes_total", { outcome: "rotated" })).toBe(1);
    expect(sample(metrics, "helios_revocations_total", { kind: "session" })).toBe(1);
    expect(sample(metrics, "helios_revocations_total", { kind: "api_key" })).toBe(1);
    expect(metrics).toMatch(/helios_db_pool_connections\{pool="auth",state="idle"\} \d+/);
    // The query above opened a connection of the query pool, which stays open while idle.
    const queryPool = (state: string) => sample(metrics, "helios_db_pool_connections", { pool: "query", state });
    expect(queryPool("used") + queryPool("idle")).toBeGreaterThanOrEqual(1);
    expect(queryPool("pending")).toBe(0);
    expect(metrics).toMatch(/process_resident_memory_bytes \d+/);

    // Give the last request lines a moment to be written, then read the whole run's log.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const logs = server.logs();
    ledger.expectNoneIn(logs);
    expect(logs).not.toContain("apikey=");
    const lines = logs.trim().split("\n").map((line) => JSON.parse(line) as LogLine);
    const requests = lines.filter((line) => line.msg === "request");
    expect(requests.length).toBeGreaterThanOrEqual(18);
    for (const line of requests) expect(line.reqId, JSON.stringify(line)).toMatch(/\S/);
    expect(requests.find((line) => line.reqId === "trace-42")).toMatchObject({ route: "helios.auth.v1.AuthService/GetUser", status: 200 });
    // Lines logged by handlers carry the id of the request they served.
    for (const message of ["user signed up", "user signed in", "logged out", "API key revoked"]) {
      const line = lines.find((entry) => entry.msg === message);
      expect(line?.reqId, message).toBeDefined();
      expect(requests.some((request) => request.reqId === line?.reqId)).toBe(true);
    }
  });
});
