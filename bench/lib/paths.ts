import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

/** Where results (JSON, SVG, profiles) are written; git-ignored. */
export const resultsDir = join(repoRoot, "bench", "results");

/** Parent of the bench data directories; shared with the tests and git-ignored. */
export const dataRoot = join(repoRoot, ".test-data");

/** A bench worker script, by file name under `bench/workers/`. */
export const workerScript = (name: string): string => join(repoRoot, "bench", "workers", name);

/**
 * Creates a fresh data directory `.test-data/bench-<pid>-<hex>`. Not a `mktemp -d` folder: the
 * embedded cluster runs as the OS user `postgres`, which must traverse every parent, so each level
 * is made 0755. The name follows the tests' pattern, so their pruning removes it once we are gone.
 */
export function freshBenchDataDir(): string {
  mkdirSync(dataRoot, { recursive: true });
  chmodSync(dataRoot, 0o755);
  const dir = join(dataRoot, `bench-${process.pid}-${randomBytes(4).toString("hex")}`);
  mkdirSync(dir, { mode: 0o755 });
  chmodSync(dir, 0o755);
  return dir;
}

/** Deletes a directory made by {@link freshBenchDataDir}; refuses anything outside {@link dataRoot}. */
export async function removeBenchDataDir(dir: string): Promise<void> {
  const inside = relative(dataRoot, dir);
  if (!inside || inside.startsWith("..")) throw new Error(`refusing to delete ${dir}: not under ${dataRoot}`);
  await rm(dir, { recursive: true, force: true });
}
