import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConnectError } from "@connectrpc/connect";
import type { Principal } from "../../src/auth/principal.js";
import { reasonOf } from "../../src/errors/catalogue.js";
import { authenticatorUrl, deriveAuthenticatorPassword } from "../../src/query/authenticator.js";
import { createQueryExecutor } from "../../src/query/executor.js";
import { detectTransactionPooler } from "../../src/db/pooler-probe.js";
import { cliKey, keyHeader } from "../admin/support/admin-api.js";
import { rest, type SessionJson } from "../auth/support/auth-api.js";
import { startPgBouncer, pgBouncerUnavailable, type PgBouncer } from "../support/pgbouncer.js";
import { createScratchDatabase, externalDatabaseUrl, type ScratchDatabase } from "../support/postgres.js";
import { startTestServer, testJwtSecret, type TestServer } from "../support/server.js";
import { bearer, errorOf, getUser, query, refresh, sample, signIn, signUp } from "./support/api.js";
import { pollUntil } from "./support/wait.js";

const external = await externalDatabaseUrl();
const skip = !external || pgBouncerUnavailable() !== undefined;

const metricsOf = async (server: TestServer) => (await fetch(`${server.url}/metrics`)).text();
const noDirectUrlLine = "no --direct-database-url is set";

/**
 * Registers hooks that start a PgBouncer and two instances on one scratch database reached through
 * it (`direct` adds the direct URL), hand the instances to `take`, and stop it all afterwards.
 */
function instancesBehindPgBouncer(direct: boolean, take: (a: TestServer, b: TestServer) => void): void {
  let bouncer: PgBouncer | undefined;
  let scratch: ScratchDatabase | undefined;
  let servers: (TestServer | undefined)[] = [];
  beforeAll(async () => {
    bouncer = await startPgBouncer(external as string);
    scratch = await createScratchDatabase(external as string);
    const flags = ["--database-url", bouncer.through(scratch.url), ...(direct ? ["--direct-database-url", scratch.url] : [])];
    servers = await Promise.all([0, 1].map(() => startTestServer("external", [...flags, "--refresh-rate-limit", "1000"])));
    const [a, b] = servers;
    if (!a || !b) throw new Error("instances did not start");
    take(a, b);
  });
  afterAll(async () => {
    await Promise.all(servers.map((server) => server?.close()));
    await scratch?.drop();
    await bouncer?.stop();
  });
}

describe.skipIf(skip)("pooler detection", () => {
  let bouncer: PgBouncer;
  beforeAll(async () => {
    bouncer = await startPgBouncer(external as string);
  });
  afterAll(() => bouncer?.stop());

  // Instances started together probe together: each one's setting may land where another reads.
  it("finds the pooler from every one of several instances probing at once, and never PostgreSQL itself", async () => {
    for (let round = 0; round < 5; round++) {
      expect(await Promise.all(Array.from({ length: 4 }, () => detectTransactionPooler(bouncer.through(external as string))))).toEqual([true, true, true, true]);
      expect(await Promise.all(Array.from({ length: 4 }, () => detectTransactionPooler(external as string)))).toEqual([false, false, false, false]);
    }
  });
});

describe.skipIf(skip)("two instances behind PgBouncer in transaction mode, with a direct URL", () => {
  let a: TestServer;
  let b: TestServer;
  instancesBehindPgBouncer(true, (first, second) => {
    a = first;
    b = second;
  });

  it("detects the pooler and listens over the direct URL", async () => {
    for (const server of [a, b]) {
      expect(server.storage.pooler).toBe("transaction");
      expect(server.logs()).not.toContain(noDirectUrlLine);
      expect(sample(await metricsOf(server), "helios_invalidation_listener_up")).toBe(1);
    }
  });

  it("signs up on one instance and in on the other", async () => {
    const user = await signUp(a.url, "pgb");
    const session = (await signIn(b.url, user.email, user.password)).body as SessionJson;
    expect((await getUser(a.url, session.access_token)).status).toBe(200);
    expect((await getUser(b.url, user.session.access_token)).status).toBe(200);
  });

  it("50 concurrent refreshes of one token over both instances yield exactly one new token", async () => {
    const user = await signUp(a.url, "pgb");
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => refresh((i % 2 === 0 ? a : b).url, user.session.refresh_token)));
    expect(results.map((res) => res.status)).toEqual(Array.from({ length: 50 }, () => 200));
    const tokens = new Set(results.map((res) => (res.body as SessionJson).refresh_token));
    expect(tokens.size).toBe(1);
  });

  it("a logout on A is refused on B within 1 s (LISTEN over the direct URL)", async () => {
    const user = await signUp(a.url, "pgb");
    const token = user.session.access_token;
    expect((await getUser(b.url, token)).status).toBe(200);
    expect((await rest(a.url, "POST", "/auth/v1/logout", { headers: bearer(token) })).status).toBeLessThan(300);
    const took = await pollUntil(async () => errorOf(await getUser(b.url, token)) === "session_revoked", 1000);
    expect(took).toBeDefined();
    console.info(`behind PgBouncer: logout on A refused on B after ${took?.toFixed(1)} ms`);
    expect(sample(await metricsOf(b), "helios_cache_invalidations_total", { kind: "session" })).toBeGreaterThan(0);
  });

  it("runs admin DDL, and the new table is tenant-scoped for users on both instances", async () => {
    const admin = keyHeader(await cliKey(a));
    const ddl = await rest(a.url, "POST", "/api/v1/query", {
      headers: admin,
      body: { sql: "CREATE TABLE notes (id serial PRIMARY KEY, tenant_id text NOT NULL, body text)" },
    });
    expect(ddl.status, JSON.stringify(ddl.body)).toBe(200);
    const other = await rest(b.url, "POST", "/api/v1/query", {
      headers: { ...admin, "x-tenant-id": "globex" },
      body: { sql: "INSERT INTO notes (body) VALUES ('theirs')" },
    });
    expect(other.status, JSON.stringify(other.body)).toBe(200);
    const user = await signUp(b.url, "pgb");
    const token = user.session.access_token;
    expect((await query(a.url, token, "INSERT INTO notes (body) VALUES ('mine')")).status).toBe(200);
    for (const server of [a, b]) {
      const seen = await query(server.url, token, "SELECT tenant_id, body FROM notes ORDER BY id");
      expect(seen.body).toMatchObject({ rows: [{ tenant_id: "default", body: "mine" }] });
    }
    const all = await rest(a.url, "POST", "/api/v1/query", { headers: admin, body: { sql: "SELECT count(*)::int AS n FROM notes" } });
    expect(all.body).toMatchObject({ rows: [{ n: 2 }] });
  });

  it("serves 50 concurrent queries of one tenant over both instances: no 5xx, nothing refused", async () => {
    const user = await signUp(a.url, "pgb");
    const token = user.session.access_token;
    for (let round = 0; round < 3; round++) {
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => query((i % 2 === 0 ? a : b).url, token, `SELECT ${i} AS i, pg_sleep(0.01)`)),
      );
      const failures = results.filter((res) => res.status !== 200).map((res) => `${res.status} ${JSON.stringify(res.body)}`);
      expect(failures).toEqual([]);
    }
    for (const server of [a, b]) expect(server.logs()).not.toMatch(/prepared statement/);
  });
});

describe.skipIf(skip)("the executor's prepared statements behind PgBouncer", () => {
  let bouncer: PgBouncer;
  let server: TestServer;
  beforeAll(async () => {
    bouncer = await startPgBouncer(external as string, { serverPoolSize: 3 });
    // A server sets up the roles and the scratch database; the executors below share it.
    server = await startTestServer("external");
  });
  afterAll(async () => {
    await server?.close();
    await bouncer?.stop();
  });

  const principal: Principal = { kind: "user", id: "pgb", role: "authenticated", tenantId: "default", scopes: ["read"] };
  const texts = Array.from({ length: 8 }, (_, i) => `SELECT ${i} AS n`);

  /** Reasons of the failures among rounds of 40 concurrent queries from two executors (20 connections) over 3 server connections. */
  async function failuresWith(preparedStatements: boolean): Promise<string[]> {
    const url = authenticatorUrl(bouncer.through(server.storage.ownerUrl), deriveAuthenticatorPassword(testJwtSecret));
    const config = { ...server.config.query, maxConcurrentPerTenant: 10 };
    const executors = await Promise.all([0, 1].map(() => createQueryExecutor({ authenticatorUrl: url, config, preparedStatements })));
    const failures: string[] = [];
    try {
      for (let round = 0; round < 5; round++) {
        const results = await Promise.all(
          Array.from({ length: 40 }, (_, i) =>
            (executors[i % 2] as (typeof executors)[number]).execute({ principal, sql: texts[i % texts.length] as string }).then(
              () => undefined,
              (error: unknown) => reasonOf(ConnectError.from(error)),
            ),
          ),
        );
        failures.push(...results.filter((reason): reason is NonNullable<typeof reason> => reason !== undefined));
      }
    } finally {
      await Promise.all(executors.map((executor) => executor.close()));
    }
    return failures;
  }

  it("would break with statements kept per connection (the failure --pooler transaction avoids)", async () => {
    expect((await failuresWith(true)).length).toBeGreaterThan(0);
  });

  it("never fails with them off, as the service runs behind a pooler", async () => {
    expect(await failuresWith(false)).toEqual([]);
  });
});

describe.skipIf(skip)("two instances behind PgBouncer without a direct URL", () => {
  let a: TestServer;
  let b: TestServer;
  instancesBehindPgBouncer(false, (first, second) => {
    a = first;
    b = second;
  });

  it("says once at start that revocations fall back to the 1 s cache bound", async () => {
    for (const server of [a, b]) {
      expect(server.logs().split(noDirectUrlLine).length - 1).toBe(1);
      expect(sample(await metricsOf(server), "helios_invalidation_listener_up")).toBe(0);
    }
  });

  it("still refuses a logout made on A on B, within the caches' 1 s lifetime", async () => {
    const user = await signUp(a.url, "pgb");
    const token = user.session.access_token;
    expect((await getUser(b.url, token)).status).toBe(200);
    expect((await rest(a.url, "POST", "/auth/v1/logout", { headers: bearer(token) })).status).toBeLessThan(300);
    const took = await pollUntil(async () => errorOf(await getUser(b.url, token)) === "session_revoked", 1500);
    expect(took).toBeDefined();
    console.info(`behind PgBouncer, no direct URL: logout on A refused on B after ${took?.toFixed(1)} ms`);
  });

  it("serves queries of one tenant from both instances", async () => {
    const user = await signUp(a.url, "pgb");
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => query((i % 2 === 0 ? a : b).url, user.session.access_token, "SELECT 1 AS one")));
    expect(results.map((res) => res.status)).toEqual(Array.from({ length: 20 }, () => 200));
  });
});
