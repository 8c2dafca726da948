import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createScratchDatabase, externalDatabaseUrl, type ScratchDatabase } from "../support/postgres.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { errorOf, getUser, query, refresh, sample, signIn, signUp } from "./support/api.js";
import { pollUntil } from "./support/wait.js";
import type { SessionJson } from "../auth/support/auth-api.js";
import { rest } from "../auth/support/auth-api.js";

const external = await externalDatabaseUrl();

/** Two instances on one database: a fresh scratch database each suite, the same JWT secret. */
async function startPair(flags: string[] = []): Promise<{ a: TestServer; b: TestServer; scratch: ScratchDatabase }> {
  const scratch = await createScratchDatabase(external as string);
  const [a, b] = await Promise.all([0, 1].map(() => startTestServer("external", ["--database-url", scratch.url, ...flags])));
  if (!a || !b) throw new Error("instances did not start");
  return { a, b, scratch };
}

const metricsOf = async (server: TestServer) => (await fetch(`${server.url}/metrics`)).text();

describe.skipIf(!external)("two instances on one PostgreSQL", () => {
  let a: TestServer;
  let b: TestServer;
  let scratch: ScratchDatabase;
  beforeAll(async () => {
    ({ a, b, scratch } = await startPair(["--refresh-rate-limit", "1000"]));
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await scratch?.drop();
  });

  it("accepts a token issued by either instance on the other", async () => {
    const user = await signUp(a.url);
    expect((await getUser(b.url, user.session.access_token)).status).toBe(200);
  });

  it("a logout on A makes the token fail on B within 1 s, through the invalidation bus", async () => {
    const user = await signUp(a.url);
    const token = user.session.access_token;
    // B holds the session as live in its cache.
    expect((await getUser(b.url, token)).status).toBe(200);
    const before = sample(await metricsOf(b), "helios_cache_invalidations_total", { kind: "session" });
    expect((await rest(a.url, "POST", "/auth/v1/logout", { headers: { authorization: `Bearer ${token}` } })).status).toBeLessThan(300);
    const took = await pollUntil(async () => (await getUser(b.url, token)).status === 401, 1000);
    expect(took).toBeDefined();
    console.info(`logout on A refused on B after ${took?.toFixed(1)} ms`);
    const res = await getUser(b.url, token);
    expect(errorOf(res)).toBe("session_revoked");
    expect(sample(await metricsOf(b), "helios_cache_invalidations_total", { kind: "session" })).toBeGreaterThan(before);
    expect(sample(await metricsOf(b), "helios_invalidation_listener_up")).toBe(1);
  });

  it("a password change on A ends the user's other sessions on B within 1 s, keeping the caller's", async () => {
    const user = await signUp(a.url);
    const other = (await signIn(b.url, user.email, user.password)).body as SessionJson;
    // B holds the other session as live in its cache.
    expect((await getUser(b.url, other.access_token)).status).toBe(200);
    const changed = await fetch(`${a.url}/auth/v1/user`, {
      method: "PUT",
      headers: { authorization: `Bearer ${user.session.access_token}`, "content-type": "application/json" },
      body: JSON.stringify({ password: `${user.password}-changed` }),
    });
    expect(changed.status).toBe(200);
    const took = await pollUntil(async () => errorOf(await getUser(b.url, other.access_token)) === "session_revoked", 1000);
    expect(took).toBeDefined();
    console.info(`password change on A ended the other session on B after ${took?.toFixed(1)} ms`);
    expect((await getUser(b.url, user.session.access_token)).status).toBe(200);
    expect((await signIn(b.url, user.email, user.password)).status).toBe(400);
  });

  it("a ban and a scope change made on the database reach principals on both instances within 1 s", async () => {
    const user = await signUp(a.url);
    const token = user.session.access_token;
    const create = "create table if not exists notes (id serial primary key, tenant_id text, body text)";
    const admin = a.storage.orm.em.getConnection();
    await admin.execute(create);
    await admin.execute("grant select, insert on notes to helios_user");
    await admin.execute("grant usage on sequence notes_id_seq to helios_user");
    for (const server of [a, b]) expect((await query(server.url, token, "insert into notes (body) values ('x')")).status).toBe(200);

    // An operator takes the write scope away in SQL: no session is revoked, yet writes stop everywhere.
    await admin.execute("update auth.users set scopes = '{read}' where email = ?", [user.email]);
    for (const server of [a, b]) {
      const took = await pollUntil(async () => (await query(server.url, token, "insert into notes (body) values ('y')")).status === 403, 1000);
      expect(took).toBeDefined();
      expect((await query(server.url, token, "select count(*) from notes")).status).toBe(200);
    }

    await admin.execute("update auth.users set banned_until = now() + interval '1 hour' where email = ?", [user.email]);
    for (const server of [a, b]) {
      expect(await pollUntil(async () => errorOf(await getUser(server.url, token)) === "user_banned", 1000)).toBeDefined();
    }
  });

  it("50 concurrent refreshes of one token spread over both instances yield exactly one new token", async () => {
    const user = await signUp(a.url);
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => refresh((i % 2 === 0 ? a : b).url, user.session.refresh_token)),
    );
    expect(results.map((res) => res.status)).toEqual(Array.from({ length: 50 }, () => 200));
    const tokens = new Set(results.map((res) => (res.body as SessionJson).refresh_token));
    expect(tokens.size).toBe(1);
    expect(tokens.has(user.session.refresh_token)).toBe(false);
    // The one new token is live on both instances.
    const [next] = tokens;
    expect((await refresh(b.url, next as string)).status).toBe(200);
  });
});

describe.skipIf(!external)("a rate limit shared by two instances", () => {
  let a: TestServer;
  let b: TestServer;
  let scratch: ScratchDatabase;
  beforeAll(async () => {
    ({ a, b, scratch } = await startPair(["--signin-rate-limit", "4", "--signup-rate-limit", "1000"]));
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await scratch?.drop();
  });

  it("counts sign-ins on either instance against one budget", async () => {
    const user = await signUp(a.url);
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await signIn((i % 2 === 0 ? a : b).url, user.email, user.password)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429, 429, 429]);
    const hits = sample(await metricsOf(a), "helios_rate_limit_hits_total") + sample(await metricsOf(b), "helios_rate_limit_hits_total");
    expect(hits).toBe(4);
  });
});
