import { performance } from "node:perf_hooks";
import { createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QueryService } from "../../gen/helios/query/v1/query_pb.js";
import { createLogger } from "../../src/logging/logger.js";
import { startServer, type RunningServer } from "../../src/app/server.js";
import { backends, startTestServer, type TestServer } from "../support/server.js";
import {
  authApi,
  createSecretLedger,
  expectFailure,
  expectOk,
  generousLimits,
  protocols,
  rest,
  rpcFailure,
  rpcTransport,
  signUpUser,
  type AuthApi,
  type Failure,
  type Protocol,
  type SessionJson,
  type TestUser,
} from "./support/auth-api.js";

/** Calls QueryService (POST /api/v1/query on REST) with `accessToken`; resolves the failure, or undefined on success. */
async function queryFailure(protocol: Protocol, baseUrl: string, accessToken: string): Promise<Failure | undefined> {
  if (protocol === "rest") {
    const res = await rest(baseUrl, "POST", "/api/v1/query", {
      body: { sql: "select 1" },
      headers: { authorization: `Bearer ${accessToken}` },
    });
    if (res.status === 200) return undefined;
    const { error, message } = res.body as { error: string; message: string };
    return { reason: error, message, status: res.status, details: {}, headers: res.headers };
  }
  const client = createClient(QueryService, rpcTransport(protocol, baseUrl));
  try {
    await client.query({ sql: "select 1" }, { headers: { authorization: `Bearer ${accessToken}` } });
    return undefined;
  } catch (error) {
    return rpcFailure(error);
  }
}

describe.each(backends)("logout on %s storage", (backend) => {
  let server: TestServer;
  const ledger = createSecretLedger();
  beforeAll(async () => {
    server = await startTestServer(backend, generousLimits);
  });
  afterAll(() => server?.close());

  describe.each(protocols)("over %s", (protocol) => {
    let api: AuthApi;
    let user: TestUser;
    beforeAll(async () => {
      api = authApi(protocol, server.url);
      user = await signUpUser(api, "logout");
      ledger.addUser(user);
    });

    async function signIn(): Promise<SessionJson> {
      const session = expectOk(await api.token({ email: user.email, password: user.password }));
      ledger.addSession(session);
      return session;
    }

    it("revokes the session at once: its access token fails on every endpoint, its refresh token is dead", async () => {
      const session = await signIn();
      expectOk(await api.getUser(session.access_token));
      const before = await queryFailure(protocol, server.url, session.access_token);
      // Whatever QueryService answers (a result, or an SQL error), the token got past authentication.
      expect(["unauthorized", "invalid_token", "session_revoked"]).not.toContain(before?.reason);

      expectOk(await api.logout(session.access_token));

      expectFailure(await api.getUser(session.access_token), "session_revoked", "Session has been revoked");
      const after = await queryFailure(protocol, server.url, session.access_token);
      expect(after).toMatchObject({ reason: "session_revoked" });
      expectFailure(await api.refresh(session.refresh_token), "invalid_refresh_token");
    });

    it("is idempotent: logging out again with the same token succeeds and changes nothing", async () => {
      const session = await signIn();
      const other = await signIn();
      expectOk(await api.logout(session.access_token));
      expectOk(await api.logout(session.access_token));
      expectOk(await api.logout(session.access_token, "global"));
      // A revoked session's token cannot reach further than itself.
      expectOk(await api.getUser(other.access_token));
    });

    it("with scope=others revokes every other session of the user and keeps the caller's", async () => {
      const [a, b, c] = [await signIn(), await signIn(), await signIn()];
      expectOk(await api.logout(a.access_token, "others"));
      expectOk(await api.getUser(a.access_token));
      ledger.addSession(expectOk(await api.refresh(a.refresh_token)));
      for (const revoked of [b, c]) {
        expectFailure(await api.getUser(revoked.access_token), "session_revoked");
        expectFailure(await api.refresh(revoked.refresh_token), "invalid_refresh_token");
      }
    });

    it("with scope=global revokes every session of the user, and only of that user", async () => {
      const stranger = await signUpUser(api, "bystander");
      ledger.addUser(stranger);
      const [a, b] = [await signIn(), await signIn()];
      expectOk(await api.logout(b.access_token, "global"));
      for (const revoked of [a, b]) expectFailure(await api.getUser(revoked.access_token), "session_revoked");
      expectOk(await api.getUser(stranger.session.access_token));
      // Signing in again starts a fresh session.
      expectOk(await api.getUser((await signIn()).access_token));
    });

    it("refuses an unknown scope with 400 validation_failed and a call without credentials with 401", async () => {
      const session = await signIn();
      expectFailure(await api.logout(session.access_token, "everything"), "validation_failed");
      expectOk(await api.getUser(session.access_token));
      expectFailure(await api.logout(undefined), "unauthorized");
    });
  });

  it("lets a client that still attaches its logged-out token sign in again", async () => {
    const user = await signUpUser(authApi("rest", server.url), "relogin");
    ledger.addUser(user);
    const headers = { authorization: `Bearer ${user.session.access_token}` };
    expect((await rest(server.url, "POST", "/auth/v1/logout", { headers })).status).toBe(204);
    const again = await rest(server.url, "POST", "/auth/v1/token", { body: { email: user.email, password: user.password }, headers });
    expect(again.status).toBe(200);
    ledger.addSession(again.body as SessionJson);
    expect((await rest(server.url, "GET", "/auth/v1/user", { headers })).status).toBe(401);
  });

  it("answers 204 with no body on REST", async () => {
    const user = await signUpUser(authApi("rest", server.url), "rest204");
    ledger.addUser(user);
    const res = await fetch(`${server.url}/auth/v1/logout`, {
      method: "POST",
      headers: { authorization: `Bearer ${user.session.access_token}` },
    });
    expect(res.status).toBe(204);
    expect(await res.text()).toBe("");
  });

  it("never logs passwords or tokens", () => {
    ledger.expectNoneIn(server.logs());
  });
});

describe.runIf(backends.includes("external"))("logout seen by another instance sharing the database", () => {
  let first: TestServer;
  let second: RunningServer;
  beforeAll(async () => {
    first = await startTestServer("external", generousLimits);
    second = await startServer({ ...first.config, port: 0 }, createLogger("silent"));
  });
  afterAll(async () => {
    await second?.close();
    await first?.close();
  });

  it("rejects the token there within the session cache's staleness bound (~1 s)", async () => {
    const user = await signUpUser(authApi("rest", first.url), "fleet");
    const elsewhere = authApi("grpc", second.url);
    // Warm the other instance's cache with the live state.
    expectOk(await elsewhere.getUser(user.session.access_token));
    expectOk(await authApi("rest", first.url).logout(user.session.access_token));
    const start = performance.now();
    await expect
      .poll(async () => (await elsewhere.getUser(user.session.access_token)).ok, { timeout: 5000, interval: 50 })
      .toBe(false);
    expect(performance.now() - start).toBeLessThan(1500);
    expectFailure(await elsewhere.getUser(user.session.access_token), "session_revoked");
    expectFailure(await elsewhere.refresh(user.session.refresh_token), "invalid_refresh_token");
  });
});
