import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPostgresRateLimiter } from "../../src/auth/postgres-rate-limiter.js";
import { openStorage, type Storage } from "../../src/db/storage.js";
import { createLogger } from "../../src/logging/logger.js";
import { createScratchDatabase, externalDatabaseUrl, type ScratchDatabase } from "../support/postgres.js";
import { describeRateLimiterSemantics } from "../support/rate-limiter-contract.js";

const external = await externalDatabaseUrl();
const t0 = 1_800_000_000_000;

describe.skipIf(!external)("PostgreSQL rate limiter", () => {
  let scratch: ScratchDatabase;
  const instances: Storage[] = [];
  beforeAll(async () => {
    scratch = await createScratchDatabase(external as string);
    // Two instances: each its own ORM and pool, sharing nothing but the database.
    for (let i = 0; i < 2; i++) instances.push(await openStorage({ dataDir: "unused", databaseUrl: scratch.url, logger: createLogger("silent") }));
  });
  afterAll(async () => {
    for (const storage of instances) await storage.close();
    await scratch?.drop();
  });

  describeRateLimiterSemantics("postgres", () => {
    const clock = { now: t0 };
    const prefix = randomBytes(4).toString("hex");
    const [first] = instances;
    if (!first) throw new Error("no storage");
    return {
      limiter: createPostgresRateLimiter({ orm: first.orm, logger: createLogger("silent"), now: () => clock.now }),
      at: (seconds) => {
        clock.now = t0 + seconds * 1000;
      },
      key: (name) => `${prefix}:${name}`,
    };
  });

  it("counts concurrent requests on several instances exactly once each", async () => {
    const limiters = instances.map((storage) => createPostgresRateLimiter({ orm: storage.orm, logger: createLogger("silent") }));
    const key = `shared:${randomBytes(4).toString("hex")}`;
    const decisions = await Promise.all(
      Array.from({ length: 40 }, (_, i) => (limiters[i % limiters.length] ?? limiters[0])?.consume(key, 10, 3600)),
    );
    expect(decisions.filter((decision) => decision?.allowed)).toHaveLength(10);
  });

  it("sweeps expired counters", async () => {
    const [storage] = instances;
    if (!storage) throw new Error("no storage");
    const connection = storage.orm.em.getConnection();
    await connection.execute("insert into auth.rate_limits values ('stale', 1000, 0, 1, 1, now() - interval '1 hour')");
    const limiter = createPostgresRateLimiter({ orm: storage.orm, logger: createLogger("silent"), sweepIntervalSeconds: 0 });
    await limiter.consume(`fresh:${randomBytes(4).toString("hex")}`, 5, 60);
    const remaining = async () => (await connection.execute<Array<{ n: number }>>("select count(*)::int as n from auth.rate_limits where key = 'stale'"))[0]?.n;
    for (let i = 0; i < 50 && (await remaining()) !== 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await remaining()).toBe(0);
  });
});
