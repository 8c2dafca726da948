import { setTimeout as sleep } from "node:timers/promises";
import type { Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createHeliosClient,
  createHeliosClientWithTransport,
  HeliosError,
  type HeliosClient,
  type HeliosSession,
} from "heliosdb-nano/client";
import { apiError } from "../../src/errors/catalogue.js";
import { generousLimits, strongPassword, uniqueEmail } from "../auth/support/auth-api.js";
import { backends, startTestServer, type TestServer } from "../support/server.js";

const transports = ["connect", "grpc", "grpc-web"] as const;

/** Counts the RPCs a client sends, by method name, and the reasons of the ones that failed. */
function createCallLog() {
  const calls: string[] = [];
  const failures: string[] = [];
  const interceptor: Interceptor = (next) => async (req) => {
    calls.push(req.method.name);
    try {
      return await next(req);
    } catch (error) {
      failures.push(`${req.method.name}:${HeliosError.from(error).reason}`);
      throw error;
    }
  };
  return { calls, failures, interceptor, count: (name: string) => calls.filter((c) => c === name).length };
}

/** Sleeps until the server's clock has passed the session's `expires_at` (both run on this machine). */
async function untilExpired(session: HeliosSession | undefined): Promise<void> {
  if (!session) throw new Error("no session");
  await sleep(Math.max(0, session.expiresAt * 1000 - Date.now()) + 50);
}

describe.each(backends)("automatic token refresh (2-second tokens) on %s storage", (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    // No clock-skew tolerance: the server refuses a token as soon as it expires.
    server = await startTestServer(backend, [...generousLimits, "--token-expiry", "2", "--jwt-clock-skew", "0"]);
  });
  afterAll(() => server?.close());

  describe.each(transports)("over %s", (transport) => {
    const clients: HeliosClient[] = [];
    afterAll(() => clients.forEach((c) => c.close()));
    const signedIn = async (options: { refreshMargin?: number } = {}) => {
      const log = createCallLog();
      const client = createHeliosClient({ baseUrl: server.url, transport, interceptors: [log.interceptor], ...options });
      clients.push(client);
      await client.signUp(uniqueEmail(transport), strongPassword());
      return { client, log };
    };

    it("keeps every request succeeding across several refreshes", { timeout: 60_000 }, async () => {
      const refreshes: HeliosSession[] = [];
      const { client, log } = await signedIn();
      const first = client.session;
      let requests = 0;
      // Until the token was replaced three times: bounded, in case refreshing never happens.
      for (let batch = 0; batch < 400 && new Set(refreshes.map((s) => s.accessToken)).size < 3; batch++) {
        const results = await Promise.all([client.query("SELECT 1 AS one"), client.getUser(), client.query("SELECT 2 AS two")]);
        requests += results.length;
        if (client.session && client.session !== first && !refreshes.includes(client.session)) refreshes.push(client.session);
        await sleep(50);
      }
      expect(refreshes.length).toBeGreaterThanOrEqual(3);
      // Every call above resolved. Refreshes happen before expiry; should a busy machine still let a
      // token expire in flight, the server's token_expired was absorbed by one refresh and a retry.
      expect(log.failures.filter((f) => !f.endsWith(":token_expired"))).toEqual([]);
      expect(log.count("Refresh")).toBe(refreshes.length);
      expect(requests).toBeGreaterThan(refreshes.length);
    });

    it("refreshes once for many concurrent calls when the token is about to expire", async () => {
      const { client, log } = await signedIn();
      await untilExpired(client.session);
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => client.query("SELECT $1::int AS i", [i])));
      expect(results.map((r) => r.rows[0])).toEqual(Array.from({ length: 8 }, (_, i) => ({ i })));
      expect(log.count("Refresh")).toBe(1);
      expect(log.failures).toEqual([]);
    });

    it("refreshes once on token_expired answers and retries each call once", async () => {
      const { client, log } = await signedIn({ refreshMargin: 0 });
      await untilExpired(client.session);
      const results = await Promise.all(Array.from({ length: 5 }, () => client.getUser()));
      expect(new Set(results.map((user) => user.id)).size).toBe(1);
      expect(log.count("Refresh")).toBe(1);
      expect(log.count("GetUser")).toBe(10);
      expect(log.failures).toEqual(Array.from({ length: 5 }, () => "GetUser:token_expired"));
    });
  });

  it("gives up after one retry when the answer stays token_expired", async () => {
    const log = createCallLog();
    // Between the client and the server: every Query answers token_expired, whatever the token.
    const alwaysExpired: Interceptor = (next) => async (req) => {
      if (req.method.name === "Query") throw apiError("token_expired");
      return next(req);
    };
    const transport = createConnectTransport({ baseUrl: server.url, httpVersion: "1.1", interceptors: [log.interceptor, alwaysExpired] });
    const client = createHeliosClientWithTransport(transport);
    await client.signUp(uniqueEmail("stubborn"), strongPassword());
    const error = await client.query("SELECT 1").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HeliosError);
    expect(error).toMatchObject({ reason: "token_expired" });
    expect(log.count("Query")).toBe(2);
    expect(log.count("Refresh")).toBe(1);
  });

  it("forgets a session whose refresh the server refuses", async () => {
    const email = uniqueEmail("revoked");
    const password = strongPassword();
    const seen: Array<HeliosSession | undefined> = [];
    const client = createHeliosClient({ baseUrl: server.url, onSessionChange: (s) => seen.push(s) });
    await client.signUp(email, password);
    const other = createHeliosClient({ baseUrl: server.url });
    await other.signIn(email, password);
    await other.signOut("global");
    const error = await client.refresh().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HeliosError);
    expect(client.session).toBeUndefined();
    expect(seen.at(-1)).toBeUndefined();
    client.close();
    other.close();
  });
});
