import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { chmodSync, existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { findFreeLoopbackPort } from "../../src/db/free-port.js";
import { queryRoles } from "../../src/query/query-roles.js";
import { freshDataDir, removeDataDir } from "./postgres.js";

/** A PgBouncer in transaction mode started for a suite, in front of one PostgreSQL. */
export interface PgBouncer {
  readonly port: number;
  /** `url` (a database on the PostgreSQL behind) with PgBouncer's host and port instead. */
  through(url: string): string;
  /** What PgBouncer wrote so far. */
  logs(): string;
  /** Stops PgBouncer and removes its directory. Idempotent. */
  stop(): Promise<void>;
}

const binaryPaths = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"];

/** The PgBouncer binary (Debian's package puts it in /usr/sbin), or undefined. */
function pgBouncerBinary(): string | undefined {
  const onPath = spawnSync("sh", ["-c", "command -v pgbouncer"], { encoding: "utf8" }).stdout.trim();
  return [onPath, ...binaryPaths].find((path) => path !== "" && existsSync(path));
}

/** Why PgBouncer suites cannot run here, or undefined when they can. Says it once on the console. */
let unavailable: string | undefined | null = null;
export function pgBouncerUnavailable(): string | undefined {
  if (unavailable === null) {
    unavailable = pgBouncerBinary() ? undefined : "PgBouncer suites skipped: no pgbouncer binary (Debian: apt-get install pgbouncer).";
    if (unavailable) console.warn(unavailable);
  }
  return unavailable;
}

/** PgBouncer refuses to run as root: then it runs as the `postgres` user (or `nobody`). */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const user of ["postgres", "nobody"]) {
    const ids = spawnSync("id", ["-u", user], { encoding: "utf8" });
    const groups = spawnSync("id", ["-g", user], { encoding: "utf8" });
    if (ids.status === 0 && groups.status === 0) return { uid: Number(ids.stdout.trim()), gid: Number(groups.stdout.trim()) };
  }
  throw new Error("PgBouncer will not run as root, and neither a postgres nor a nobody user exists");
}

/**
 * Starts PgBouncer (transaction pooling, trust authentication, `serverPoolSize` server connections
 * per database and user, so client connections are really multiplexed) on a free loopback port, in
 * front of the server of `targetUrl`; every database there is reachable through it. Its
 * configuration lives in a directory of its own, removed on {@link PgBouncer.stop}.
 */
export async function startPgBouncer(targetUrl: string, options: { serverPoolSize?: number } = {}): Promise<PgBouncer> {
  const binary = pgBouncerBinary();
  if (!binary) throw new Error("no pgbouncer binary");
  const target = new URL(targetUrl);
  const dir = freshDataDir("pgbouncer");
  const port = await findFreeLoopbackPort();
  const users = [decodeURIComponent(target.username || "postgres"), queryRoles.authenticator];
  writeFileSync(join(dir, "users.txt"), users.map((user) => `"${user}" ""\n`).join(""));
  writeFileSync(
    join(dir, "pgbouncer.ini"),
    [
      "[databases]",
      `* = host=${target.hostname} port=${target.port || "5432"}`,
      "[pgbouncer]",
      "listen_addr = 127.0.0.1",
      `listen_port = ${port}`,
      "unix_socket_dir =",
      "auth_type = trust",
      `auth_file = ${join(dir, "users.txt")}`,
      "pool_mode = transaction",
      "max_client_conn = 1000",
      `default_pool_size = ${options.serverPoolSize ?? 6}`,
      "ignore_startup_parameters = extra_float_digits,options",
      "",
    ].join("\n"),
  );
  for (const file of ["users.txt", "pgbouncer.ini"]) chmodSync(join(dir, file), 0o644);
  const child: ChildProcess = spawn(binary, [join(dir, "pgbouncer.ini")], { ...runAs(), stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = once(child, "exit");

  const through = (url: string) => {
    const pooled = new URL(url);
    pooled.hostname = "127.0.0.1";
    pooled.port = String(port);
    return pooled.toString();
  };
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        await exited;
      }
      await removeDataDir(dir);
    })();
    return stopped;
  };

  // Ready once it lets a client through to the server behind.
  const deadline = Date.now() + 10_000;
  for (;;) {
    const client = new pg.Client({ connectionString: through(targetUrl), connectionTimeoutMillis: 1_000 });
    client.on("error", () => undefined);
    try {
      await client.connect();
      await client.query("select 1");
      await client.end();
      break;
    } catch (error) {
      await client.end().catch(() => undefined);
      if (child.exitCode !== null || Date.now() > deadline) {
        await stop();
        throw new Error(`PgBouncer did not start: ${(error as Error).message}\n${output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return { port, through, logs: () => output, stop };
}
