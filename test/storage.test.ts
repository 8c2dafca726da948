import { spawn } from "node:child_process";
import { mkdirSync, statSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Writable } from "node:stream";
import { pathToFileURL } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { assertRunnableBy } from "../src/db/cluster-account.js";
import { migrations } from "../src/db/migrations/index.js";
import { openStorage, type Storage } from "../src/db/storage.js";
import { createLogger, type Logger } from "../src/logging/logger.js";
import {
  createScratchDatabase,
  externalDatabaseUrl,
  freshDataDir,
  isRunning,
  removeDataDir,
  type ScratchDatabase,
} from "./support/postgres.js";

/** Names of every migration, in order; the first one is ours. */
const allMigrations = migrations.map((migration) => migration.name);

/** A debug-level logger whose output the test can read back. */
function capturingLogger(): { logger: Logger; text: () => string } {
  let text = "";
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  return { logger: createLogger("debug", sink), text: () => text };
}

async function query<T extends object>(storage: Storage, sql: string): Promise<T[]> {
  return storage.orm.em.getConnection().execute<T[]>(sql);
}

async function appliedMigrations(storage: Storage): Promise<string[]> {
  const rows = await query<{ name: string }>(storage, "select name from auth.mikro_orm_migrations order by id");
  return rows.map((row) => row.name);
}

async function authSchemaExists(storage: Storage): Promise<boolean> {
  const rows = await query<{ found: boolean }>(storage, "select exists(select from pg_namespace where nspname = 'auth') as found");
  return rows[0]?.found === true;
}

async function postmasterPid(dataDir: string): Promise<number> {
  return Number.parseInt(await readFile(join(dataDir, "pg", "postmaster.pid"), "utf8"), 10);
}

/**
 * Starts the embedded cluster in a child Node process that then idles, as a service would; the
 * caller kill -9s it to leave the cluster running without its parent.
 */
async function startClusterInChild(dataDir: string): Promise<{ kill(): Promise<void> }> {
  const module = (path: string): string => JSON.stringify(pathToFileURL(join(import.meta.dirname, "..", path)).href);
  const script = `
    import { startEmbeddedPostgres } from ${module("src/db/embedded-postgres.ts")};
    import { createLogger } from ${module("src/logging/logger.ts")};
    await startEmbeddedPostgres({ dataDir: process.argv[1], logger: createLogger("warn") });
    process.stdout.write("READY\\n");
    setInterval(() => {}, 60_000);
  `;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "--eval", script, dataDir], {
    cwd: join(import.meta.dirname, ".."),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("READY")) resolve();
    });
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.once("exit", (code) => reject(new Error(`child exited (${code}) before the cluster was ready:\n${output}`)));
  });
  return {
    kill: () =>
      new Promise((resolve) => {
        child.once("exit", () => resolve());
        child.kill("SIGKILL");
      }),
  };
}

describe("embedded storage", () => {
  const dataDir = freshDataDir("storage");
  const opened: Storage[] = [];
  const open = async (logger: Logger = createLogger("warn")): Promise<Storage> => {
    const storage = await openStorage({ dataDir, logger });
    opened.push(storage);
    return storage;
  };
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((storage) => storage.close()));
  });
  afterAll(() => removeDataDir(dataDir));

  it("creates the cluster on first start, applies migrations and answers ping", async () => {
    const { logger, text } = capturingLogger();
    const began = performance.now();
    const storage = await open(logger);
    const firstStartMs = performance.now() - began;

    expect(storage.mode).toBe("embedded");
    expect(await storage.ping()).toBe(true);
    expect(await authSchemaExists(storage)).toBe(true);
    expect(allMigrations[0]).toBe("0001-auth-schema");
    expect(await appliedMigrations(storage)).toEqual(allMigrations);

    const url = new URL(storage.ownerUrl);
    expect(url.hostname).toBe("127.0.0.1");
    expect(url.port).not.toBe("5432");
    expect(url.pathname).toBe("/helios");
    const [settings] = await query<{ listen: string; sockets: string }>(
      storage,
      "select current_setting('listen_addresses') as listen, current_setting('unix_socket_directories') as sockets",
    );
    expect(settings).toEqual({ listen: "127.0.0.1", sockets: "" });

    const passwordFile = join(dataDir, "pg-superuser-password");
    expect(statSync(passwordFile).mode & 0o777).toBe(0o600);
    const password = (await readFile(passwordFile, "utf8")).trim();
    expect(decodeURIComponent(url.password)).toBe(password);
    expect(text()).toContain(join(dataDir, "pg"));
    expect(text()).not.toContain(password);

    await query(storage, "create table public.survives_restart (id int)");
    await storage.close();
    await storage.close();
    expect(await storage.ping()).toBe(false);
    console.info(`embedded storage: first start (initdb + start + migrations) ${Math.round(firstStartMs)} ms`);
  });

  it("restarts on the same data directory with the same password and data", async () => {
    const password = (await readFile(join(dataDir, "pg-superuser-password"), "utf8")).trim();
    const began = performance.now();
    const storage = await open();
    const restartMs = performance.now() - began;

    expect(decodeURIComponent(new URL(storage.ownerUrl).password)).toBe(password);
    expect(await storage.ping()).toBe(true);
    expect(await appliedMigrations(storage)).toEqual(allMigrations);
    expect(await query(storage, "select * from public.survives_restart")).toEqual([]);
    console.info(`embedded storage: restart ${Math.round(restartMs)} ms`);
  });

  it("recovers a cluster left running by a killed parent", async () => {
    const child = await startClusterInChild(dataDir);
    const orphan = await postmasterPid(dataDir);
    await child.kill();
    expect(isRunning(orphan)).toBe(true);

    const { logger, text } = capturingLogger();
    const storage = await open(logger);
    expect(await storage.ping()).toBe(true);
    expect(text()).toContain("stopping an embedded PostgreSQL left running by a previous run");
    expect(isRunning(orphan)).toBe(false);
    expect(await postmasterPid(dataDir)).not.toBe(orphan);
  });

  it("refuses to start a second cluster on a data directory in use", async () => {
    const storage = await open();
    await expect(openStorage({ dataDir, logger: createLogger("silent") })).rejects.toThrow(/is in use/);
    expect(await storage.ping()).toBe(true);
  });

  it("removes a stale postmaster.pid whose process is gone", async () => {
    const gone = spawn("true");
    await new Promise((resolve) => gone.once("exit", resolve));
    const pidFile = join(dataDir, "pg", "postmaster.pid");
    await writeFile(pidFile, `${gone.pid}\n${join(dataDir, "pg")}\n0\n1\n\n127.0.0.1\n0 0\nready   \n`);

    const storage = await open();
    expect(await storage.ping()).toBe(true);
    expect(await postmasterPid(dataDir)).not.toBe(gone.pid);
  });

  it("answers ping false when the cluster dies, and still closes", async () => {
    const { logger, text } = capturingLogger();
    const storage = await open(logger);
    process.kill(await postmasterPid(dataDir), "SIGQUIT");
    await expect.poll(() => storage.ping(), { timeout: 5_000 }).toBe(false);
    await expect.poll(() => text()).toContain("the embedded PostgreSQL exited unexpectedly");
    await storage.close();
  });
});

describe.skipIf(process.getuid?.() !== 0)("embedded storage as root", () => {
  let locked: string;
  beforeAll(() => {
    locked = freshDataDir("locked");
    mkdirSync(join(locked, "private"), { mode: 0o700 });
  });
  afterAll(() => removeDataDir(locked));

  it("refuses a data directory under a folder the postgres user cannot traverse", async () => {
    await expect(openStorage({ dataDir: join(locked, "private", "data"), logger: createLogger("silent") })).rejects.toThrow(
      /not reachable by the postgres user.*parent \S+\/private is mode 0700/,
    );
  });

  it("refuses PostgreSQL binaries installed where the postgres user cannot reach them", async () => {
    const program = join(locked, "private", "postgres");
    await writeFile(program, "", { mode: 0o755 });
    await expect(assertRunnableBy(program, { name: "postgres", uid: 101_000, gid: 101_000 })).rejects.toThrow(
      /binaries in \S+\/private are not reachable by the postgres user.*mode 0700/,
    );
  });
});

describe("external storage errors", () => {
  it("reports an unreachable server without revealing the password", async () => {
    const open = openStorage({
      dataDir: "unused",
      databaseUrl: "postgres://helios:hunter2-secret@127.0.0.1:1/helios",
      logger: createLogger("silent"),
    });
    await expect(open).rejects.toThrow(/cannot connect to PostgreSQL helios@127\.0\.0\.1:1\/helios/);
    await expect(open).rejects.not.toThrow(/hunter2/);
  });

  it("rejects a URL that is not postgres://", async () => {
    await expect(
      openStorage({ dataDir: "unused", databaseUrl: "mysql://u:secret@h/db", logger: createLogger("silent") }),
    ).rejects.toThrow(/must start with postgres:\/\//);
  });
});

const externalUrl = await externalDatabaseUrl();

describe.skipIf(!externalUrl)("external storage", () => {
  let scratch: ScratchDatabase;
  beforeAll(async () => {
    scratch = await createScratchDatabase(externalUrl!);
  });
  afterAll(() => scratch?.drop());

  it("applies migrations once when several instances start together", async () => {
    const storages = await Promise.all(
      [1, 2, 3].map(() => openStorage({ dataDir: "unused", databaseUrl: scratch.url, logger: createLogger("warn") })),
    );
    try {
      for (const storage of storages) {
        expect(storage.mode).toBe("external");
        expect(storage.ownerUrl).toBe(scratch.url);
        expect(await storage.ping()).toBe(true);
      }
      expect(await authSchemaExists(storages[0]!)).toBe(true);
      expect(await appliedMigrations(storages[0]!)).toEqual(allMigrations);
    } finally {
      await Promise.all(storages.map((storage) => storage.close()));
    }
  });

  it("reopens with nothing to migrate", async () => {
    const { logger, text } = capturingLogger();
    const storage = await openStorage({ dataDir: "unused", databaseUrl: scratch.url, logger });
    try {
      expect(await appliedMigrations(storage)).toEqual(allMigrations);
      expect(text()).not.toContain("applied");
    } finally {
      await storage.close();
    }
    expect(await storage.ping()).toBe(false);
  });
});
