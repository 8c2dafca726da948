import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { describeDatabaseUrl } from "../../src/db/connection-url.js";

/**
 * Parent of every test data directory: `<repo>/.test-data` (git-ignored). It is not a
 * `mktemp -d` folder on purpose: those are mode 0700, and the embedded cluster runs as the
 * `postgres` user when tests run as root, so every parent must be traversable by that user.
 */
export const testDataRoot = fileURLToPath(new URL("../../.test-data/", import.meta.url));

const DATA_DIR_NAME = /^(?<label>.+)-(?<pid>\d+)-[0-9a-f]{8}$/;
let pruned = false;

/**
 * Creates and returns a fresh, empty data directory under {@link testDataRoot}, named
 * `<label>-<pid>-<random>`. The first call in a process removes the directories of earlier test
 * processes that are gone (stopping any PostgreSQL they left running), so clusters (~50 MB each)
 * do not pile up.
 */
export function freshDataDir(label = "data"): string {
  mkdirSync(testDataRoot, { recursive: true });
  chmodSync(testDataRoot, 0o755);
  if (!pruned) {
    pruned = true;
    pruneDeadDataDirs();
  }
  const dir = join(testDataRoot, `${label}-${process.pid}-${randomBytes(4).toString("hex")}`);
  mkdirSync(dir, { mode: 0o755 });
  return dir;
}

/** Deletes a directory made by {@link freshDataDir} (and refuses anything outside {@link testDataRoot}). */
export async function removeDataDir(dir: string): Promise<void> {
  const inside = relative(testDataRoot, dir);
  if (!inside || inside.startsWith("..")) throw new Error(`refusing to delete ${dir}: not under ${testDataRoot}`);
  await rm(dir, { recursive: true, force: true });
}

function pruneDeadDataDirs(): void {
  for (const name of readdirSync(testDataRoot)) {
    const pid = Number(DATA_DIR_NAME.exec(name)?.groups?.pid);
    if (!pid || isRunning(pid)) continue;
    const dir = join(testDataRoot, name);
    stopLeftoverPostmaster(join(dir, "pg", "postmaster.pid"));
    rmSync(dir, { recursive: true, force: true });
  }
}

function stopLeftoverPostmaster(pidFile: string): void {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(pidFile, "utf8"), 10);
  } catch {
    return;
  }
  if (pid > 0 && isRunning(pid) && processName(pid) === "postgres") {
    try {
      process.kill(pid, "SIGQUIT");
    } catch {
      // Already gone.
    }
  }
}

/** True when `pid` runs and is not a zombie. */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    try {
      process.kill(pid, 0);
      return true;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === "EPERM";
    }
  }
}

function processName(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return undefined;
  }
}

let external: Promise<string | undefined> | undefined;

/**
 * The external PostgreSQL for tests, from `HELIOS_TEST_DATABASE_URL` (CI:
 * `postgres://postgres@127.0.0.1:5432/test`), or undefined when the variable is unset or the
 * server does not answer within 3 s. Says once on the console why external suites are skipped.
 */
export function externalDatabaseUrl(): Promise<string | undefined> {
  external ??= (async () => {
    const url = process.env.HELIOS_TEST_DATABASE_URL;
    if (!url) {
      console.warn("External PostgreSQL suites skipped: HELIOS_TEST_DATABASE_URL is unset.");
      return undefined;
    }
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
    client.on("error", () => undefined);
    try {
      await client.connect();
      await client.query("select 1");
      return url;
    } catch (error) {
      console.warn(
        `External PostgreSQL suites skipped: HELIOS_TEST_DATABASE_URL (${describeDatabaseUrl(url)}) is unreachable: ${(error as Error).message}`,
      );
      return undefined;
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return external;
}

/** A database created for one test suite. */
export interface ScratchDatabase {
  /** `baseUrl` with the scratch database in place of its database. */
  readonly url: string;
  /** Drops the database, terminating its connections first. Idempotent. */
  drop(): Promise<void>;
}

/**
 * Creates a uniquely named, empty database on the server of `baseUrl` (whose role needs
 * CREATEDB). Roles are server-wide, so suites that create roles must name them carefully.
 */
export async function createScratchDatabase(baseUrl: string): Promise<ScratchDatabase> {
  const name = `helios_test_${process.pid}_${randomBytes(4).toString("hex")}`;
  await withClient(baseUrl, (client) => client.query(`create database ${client.escapeIdentifier(name)}`));
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  let dropped: Promise<void> | undefined;
  return {
    url: url.toString(),
    drop: () => {
      dropped ??= withClient(baseUrl, async (client) => {
        // WITH (FORCE) terminates the database's sessions first (PostgreSQL 13+).
        await client.query(`drop database if exists ${client.escapeIdentifier(name)} with (force)`);
      });
      return dropped;
    },
  };
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  client.on("error", () => undefined);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}
