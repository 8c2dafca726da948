import { readFile, readlink, realpath, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../logging/logger.js";

/** Where a stale cluster lives and who last started it. */
export interface StalePostmasterOptions {
  /** The cluster directory (holds `postmaster.pid`). */
  readonly clusterDir: string;
  /** File holding the pid of the process that started the cluster (see {@link writeClusterOwner}). */
  readonly ownerFile: string;
  readonly logger: Logger;
}

/**
 * Makes the cluster directory startable when a previous run left it behind:
 *
 * - `postmaster.pid` names a dead process, or a live one that is not a postmaster of this cluster
 *   (the pid was reused): the file is removed.
 * - It names a live postmaster of this cluster whose parent is no longer the process that
 *   started it (that parent was killed): the postmaster is shut down (fast, then immediate,
 *   then SIGKILL).
 * - The postmaster's parent is still the process that started it: the directory is in use by a
 *   running service and an Error says so.
 */
export async function recoverStalePostmaster(options: StalePostmasterOptions): Promise<void> {
  const { clusterDir, ownerFile, logger } = options;
  const pidFile = join(clusterDir, "postmaster.pid");
  let content: string;
  try {
    content = await readFile(pidFile, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw error;
  }
  const pid = Number.parseInt(content.split("\n")[0] ?? "", 10);
  if (!Number.isSafeInteger(pid) || pid <= 0) {
    logger.warn({ pidFile }, "removing unreadable postmaster.pid left by a previous run");
    await rm(pidFile, { force: true });
    return;
  }
  const postmaster = await inspectProcess(pid);
  if (!postmaster) {
    logger.info({ pid, pidFile }, "removing stale postmaster.pid: its PostgreSQL process is gone");
    await rm(pidFile, { force: true });
    return;
  }
  if (!(await isPostmasterOf(postmaster, pid, clusterDir, content))) {
    logger.info({ pid, pidFile }, "removing stale postmaster.pid: its pid now belongs to another process");
    await rm(pidFile, { force: true });
    return;
  }
  const owner = await readClusterOwner(ownerFile);
  if (owner !== undefined && postmaster.ppid === owner) {
    throw new Error(
      `the embedded PostgreSQL in ${clusterDir} is in use: its postmaster (pid ${pid}) belongs to running process ${owner}. ` +
        "Stop that process first, or use another data directory.",
    );
  }
  logger.warn({ pid, clusterDir }, "stopping an embedded PostgreSQL left running by a previous run");
  await stopOrphan(pid);
  await rm(pidFile, { force: true });
  logger.info({ pid }, "stale embedded PostgreSQL stopped");
}

/** Records that the current process started the cluster, for {@link recoverStalePostmaster}. */
export async function writeClusterOwner(ownerFile: string): Promise<void> {
  await writeFile(ownerFile, `${process.pid}\n`, { mode: 0o644 });
}

/** Forgets the owner record once the cluster has stopped. */
export async function removeClusterOwner(ownerFile: string): Promise<void> {
  await rm(ownerFile, { force: true });
}

async function readClusterOwner(ownerFile: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt(await readFile(ownerFile, "utf8"), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

interface ProcessInfo {
  /** Parent pid; undefined where /proc is unavailable. */
  readonly ppid: number | undefined;
  /** Executable name; undefined where /proc is unavailable. */
  readonly command: string | undefined;
}

/** Returns undefined when `pid` is not running (zombies count as not running). */
async function inspectProcess(pid: number): Promise<ProcessInfo | undefined> {
  let stat: string;
  try {
    stat = await readFile(`/proc/${pid}/stat`, "utf8");
  } catch {
    // No /proc entry: either the process is gone or this is not Linux.
    return signalProbe(pid) ? { ppid: undefined, command: undefined } : undefined;
  }
  // Format: pid (comm) state ppid ... ; comm may contain spaces and parentheses.
  const close = stat.lastIndexOf(")");
  const command = stat.slice(stat.indexOf("(") + 1, close);
  const [state, ppid] = stat.slice(close + 2).split(" ");
  if (state === "Z" || state === "X") return undefined;
  return { ppid: Number.parseInt(ppid ?? "", 10), command };
}

function signalProbe(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function isPostmasterOf(info: ProcessInfo, pid: number, clusterDir: string, pidFileContent: string): Promise<boolean> {
  const wanted = await realpath(clusterDir);
  if (info.command === undefined) {
    // Without /proc, trust the data directory recorded in postmaster.pid (its second line).
    const recorded = pidFileContent.split("\n")[1] ?? "";
    return (await realpath(recorded).catch(() => recorded)) === wanted;
  }
  if (info.command !== "postgres") return false;
  // A postmaster runs with its data directory as working directory.
  const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => undefined);
  return cwd === wanted;
}

async function stopOrphan(pid: number): Promise<void> {
  // SIGINT: fast shutdown (rolls back open transactions); SIGQUIT: immediate shutdown.
  for (const [signal, waitMs] of [
    ["SIGINT", 30_000],
    ["SIGQUIT", 10_000],
    ["SIGKILL", 5_000],
  ] as const) {
    try {
      process.kill(pid, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ESRCH") return;
      throw error;
    }
    for (const deadline = Date.now() + waitMs; Date.now() < deadline; await sleep(50)) {
      if (!(await inspectProcess(pid))) return;
    }
  }
  throw new Error(`could not stop the stale embedded PostgreSQL (pid ${pid})`);
}
