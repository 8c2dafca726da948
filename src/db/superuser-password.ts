import { randomBytes } from "node:crypto";
import { chmod, readFile, stat, writeFile } from "node:fs/promises";

/**
 * Reads the embedded cluster's superuser password from `file`, creating the file with a fresh
 * random password (owner-only, mode 0600) on first use so that restarts reuse it.
 */
export async function readOrCreateSuperuserPassword(file: string): Promise<string> {
  try {
    await writeFile(file, `${randomBytes(24).toString("base64url")}\n`, { mode: 0o600, flag: "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  const info = await stat(file);
  if ((info.mode & 0o077) !== 0) await chmod(file, 0o600);
  const password = (await readFile(file, "utf8")).trim();
  if (!password) throw new Error(`superuser password file ${file} is empty; delete it only together with the cluster beside it`);
  return password;
}
