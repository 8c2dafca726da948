import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startInvalidationBus, type Invalidation } from "../../src/auth/invalidation-bus.js";
import { invalidationChannel } from "../../src/db/migrations/0004-cache-invalidation.js";
import { createLogger } from "../../src/logging/logger.js";
import { createScratchDatabase, externalDatabaseUrl, type ScratchDatabase } from "../support/postgres.js";
import { startTcpProxy, viaProxy, type TcpProxy } from "./support/tcp-proxy.js";
import { pollUntil } from "./support/wait.js";

const external = await externalDatabaseUrl();

describe.skipIf(!external)("invalidation bus over LISTEN/NOTIFY", () => {
  let scratch: ScratchDatabase;
  let proxy: TcpProxy;
  let publisher: pg.Client;
  beforeAll(async () => {
    scratch = await createScratchDatabase(external as string);
    const target = new URL(scratch.url);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    publisher = new pg.Client({ connectionString: scratch.url });
    await publisher.connect();
  });
  afterAll(async () => {
    await publisher?.end();
    await proxy?.close();
    await scratch?.drop();
  });

  const publish = (payload: string) => publisher.query("select pg_notify($1, $2)", [invalidationChannel, payload]);

  it("delivers every committed change to the caches, and clears them after reconnecting", async () => {
    const received: Invalidation[] = [];
    let cleared = 0;
    const bus = await startInvalidationBus({
      url: viaProxy(scratch.url, proxy),
      logger: createLogger("silent"),
      targets: {
        forgetSession: (id) => void received.push({ kind: "session", id }),
        forgetUser: (id) => void received.push({ kind: "user", id }),
        forgetApiKey: (id) => void received.push({ kind: "api_key", id }),
        forgetAll: () => void cleared++,
      },
      initialBackoffMs: 20,
      maxBackoffMs: 200,
      heartbeatMs: 200,
      timeoutMs: 500,
    });
    try {
      expect(bus.listening).toBe(true);
      expect(cleared).toBe(1);
      await publish("session:s1");
      await publish("user:u1");
      await publish("api_key:k1");
      await publish("junk");
      expect(await pollUntil(() => received.length === 3, 1000)).toBeDefined();
      expect(received).toEqual([
        { kind: "session", id: "s1" },
        { kind: "user", id: "u1" },
        { kind: "api_key", id: "k1" },
      ]);

      // Inside a transaction, nothing is delivered before the commit.
      await publisher.query("begin");
      await publish("session:s2");
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(received).toHaveLength(3);
      await publisher.query("commit");
      expect(await pollUntil(() => received.length === 4, 1000)).toBeDefined();

      proxy.cut();
      expect(await pollUntil(() => !bus.listening, 2000)).toBeDefined();
      proxy.restore();
      expect(await pollUntil(() => bus.listening, 5000)).toBeDefined();
      expect(bus.connections).toBe(2);
      expect(cleared).toBe(2);
      await publish("user:u2");
      expect(await pollUntil(() => received.length === 5, 1000)).toBeDefined();
    } finally {
      await bus.close();
    }
    expect(bus.listening).toBe(false);
  });

  it("replaces a connection the server terminates", async () => {
    let cleared = 0;
    const bus = await startInvalidationBus({
      url: scratch.url,
      logger: createLogger("silent"),
      targets: { forgetSession: () => undefined, forgetUser: () => undefined, forgetApiKey: () => undefined, forgetAll: () => void cleared++ },
      initialBackoffMs: 20,
    });
    try {
      await publisher.query("select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'heliosdb-nano/notify' and datname = current_database()");
      expect(await pollUntil(() => cleared === 2 && bus.listening, 5000)).toBeDefined();
    } finally {
      await bus.close();
    }
  });
});
