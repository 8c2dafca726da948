import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createScratchDatabase, externalDatabaseUrl, type ScratchDatabase } from "../support/postgres.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { errorOf, getUser, query, refresh, signIn, signUp, type RestUser } from "./support/api.js";
import { startTcpProxy, viaProxy, type TcpProxy } from "./support/tcp-proxy.js";
import { pollUntil } from "./support/wait.js";
import type { RestResponse, SessionJson } from "../auth/support/auth-api.js";

const external = await externalDatabaseUrl();

/** How long a request may take while storage is down: far below the pools' 10 s connection timeouts. */
const failFastMs = 3000;

describe.skipIf(!external)("PostgreSQL unreachable under load", () => {
  let scratch: ScratchDatabase;
  let proxy: TcpProxy;
  let server: TestServer;
  beforeAll(async () => {
    scratch = await createScratchDatabase(external as string);
    const target = new URL(scratch.url);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    server = await startTestServer("external", ["--database-url", viaProxy(scratch.url, proxy), "--signin-rate-limit", "0", "--refresh-rate-limit", "0"]);
  });
  afterAll(async () => {
    await server?.close();
    await proxy?.close();
    await scratch?.drop();
  });

  /** A mixed load for `user`: the session check, a query, a sign-in, a refresh (rotating its chain). */
  function mixedCalls(user: RestUser): Array<() => Promise<RestResponse>> {
    let refreshToken = user.session.refresh_token;
    return [
      () => getUser(server.url, user.session.access_token),
      () => query(server.url, user.session.access_token, "select 1 as one"),
      () => signIn(server.url, user.email, user.password),
      async () => {
        const res = await refresh(server.url, refreshToken);
        if (res.status === 200) refreshToken = (res.body as SessionJson).refresh_token;
        return res;
      },
    ];
  }

  it("answers 503 storage_unavailable at once while it is down, never a 4xx, and recovers by itself", async () => {
    const user: RestUser = await signUp(server.url);
    const mixed = mixedCalls(user);
    for (const call of mixed) expect((await call()).status).toBe(200);

    proxy.cut();
    const cutAt = performance.now();
    const outcomes: Array<{ status: number; error: unknown; ms: number }> = [];
    // Two seconds of load while down: past every cache's one-second lifetime.
    while (performance.now() - cutAt < 2000) {
      await Promise.all(
        mixed.map(async (call) => {
          const started = performance.now();
          const res = await call();
          outcomes.push({ status: res.status, error: errorOf(res), ms: performance.now() - started });
        }),
      );
    }
    const failed = outcomes.filter((outcome) => outcome.status !== 200);
    expect(failed.length).toBeGreaterThan(0);
    expect(new Set(failed.map((outcome) => `${outcome.status} ${String(outcome.error)}`))).toEqual(new Set(["503 storage_unavailable"]));
    const slowest = Math.max(...outcomes.map((outcome) => outcome.ms));
    expect(slowest).toBeLessThan(failFastMs);
    expect((await fetch(`${server.url}/ready`)).status).toBe(503);

    proxy.restore();
    const recovered = await pollUntil(async () => {
      const results = await Promise.all(mixed.map((call) => call()));
      return results.every((res) => res.status === 200);
    }, 15_000, 100);
    expect(recovered, "did not recover within 15 s").toBeDefined();
    expect((await fetch(`${server.url}/ready`)).status).toBe(200);
    console.info(
      `storage outage: ${outcomes.length} requests while down: ${failed.length} answered 503 storage_unavailable, ` +
        `${outcomes.length - failed.length} answered 200 from caches; slowest ${slowest.toFixed(0)} ms; ` +
        `recovered ${recovered?.toFixed(0)} ms after the network came back`,
    );
  }, 60_000);

  it("survives every connection being terminated, as a PostgreSQL restart does: 200 or 503, then recovery", async () => {
    const user: RestUser = await signUp(server.url);
    const mixed = mixedCalls(user);
    const admin = new pg.Client({ connectionString: scratch.url });
    await admin.connect();
    const outcomes: Array<{ status: number; error: unknown }> = [];
    try {
      const started = performance.now();
      const terminator = (async () => {
        while (performance.now() - started < 2000) {
          // 57P01 "terminating connection due to administrator command" on every session of the database.
          await admin.query("select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()");
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      })();
      while (performance.now() - started < 2000) {
        await Promise.all(
          mixed.map(async (call) => {
            const res = await call();
            outcomes.push({ status: res.status, error: errorOf(res) });
          }),
        );
      }
      await terminator;
    } finally {
      await admin.end();
    }
    const kinds = new Set(outcomes.map((outcome) => (outcome.status === 200 ? "200" : `${outcome.status} ${String(outcome.error)}`)));
    expect([...kinds].filter((kind) => kind !== "200" && kind !== "503 storage_unavailable")).toEqual([]);
    const recovered = await pollUntil(async () => (await Promise.all(mixed.map((call) => call()))).every((res) => res.status === 200), 15_000, 100);
    expect(recovered, "did not recover within 15 s").toBeDefined();
    const failed = outcomes.filter((outcome) => outcome.status !== 200).length;
    console.info(`connections terminated every 50 ms for 2 s: ${outcomes.length} requests, ${failed} answered 503, the rest 200; recovered ${recovered?.toFixed(0)} ms after`);
  }, 60_000);
});
