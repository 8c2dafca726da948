// Compiles src/ and gen/ into dist/ (git-ignored) with esbuild, file by file: `npm start` and the
// `heliosdb-nano` binary run that JavaScript, not the TypeScript through tsx, whose loader thread
// costs ~40 MB of resident memory for the life of the server. Type checking stays with
// `npm run typecheck`.
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outdir = join(root, "dist");
const fingerprintFile = join(outdir, ".sources");
const lockDir = join(root, ".dist-lock");

/** The .ts files (declarations excepted) under `dir`. */
function sources(dir) {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((path) => path.endsWith(".ts") && !path.endsWith(".d.ts"))
    .map((path) => join(dir, path));
}

const allSources = () => [...sources(join(root, "src")), ...sources(join(root, "gen"))].sort();

/** What the build is made from: every source's path, size and modification time. */
function fingerprint(files) {
  const hash = createHash("sha256");
  for (const file of files) {
    const { size, mtimeMs } = statSync(file);
    hash.update(`${relative(root, file)}\0${size}\0${mtimeMs}\n`);
  }
  return hash.digest("hex");
}

/** Builds dist/ afresh (into a new directory, then swapped in, so a running build is never half seen). */
export async function build() {
  // Loaded only to build: a start that finds dist/ fresh does not pay for esbuild.
  const { buildSync } = await import("esbuild");
  const files = allSources();
  const staging = `${outdir}.${process.pid}.tmp`;
  rmSync(staging, { recursive: true, force: true });
  buildSync({
    entryPoints: files.map((file) => relative(root, file)),
    absWorkingDir: root,
    outdir: staging,
    outbase: ".",
    format: "esm",
    platform: "node",
    target: "node20",
    sourcemap: true,
    logLevel: "warning",
  });
  writeFileSync(join(staging, ".sources"), fingerprint(files));
  const old = `${outdir}.${process.pid}.old`;
  rmSync(old, { recursive: true, force: true });
  try {
    renameSync(outdir, old);
  } catch (error) {
    if (error.code !== "ENOENT") throw error;
  }
  renameSync(staging, outdir);
  rmSync(old, { recursive: true, force: true });
}

function isFresh() {
  try {
    return readFileSync(fingerprintFile, "utf8") === fingerprint(allSources());
  } catch {
    return false;
  }
}

const sleep = (ms) => new Promise((resolve) => globalThis.setTimeout(resolve, ms));

/**
 * Builds dist/ unless it was built from the sources as they are now (first run, or after the
 * sources changed). Processes starting together build once: the others wait for the first.
 */
export async function ensureBuilt() {
  if (isFresh()) return;
  for (let waited = 0; ; waited += 50) {
    try {
      mkdirSync(lockDir);
      break;
    } catch (error) {
      if (error.code !== "EEXIST") throw error;
      // A lock older than a minute belongs to a build that died.
      if (Date.now() - statSync(lockDir, { throwIfNoEntry: false })?.mtimeMs > 60_000) rmSync(lockDir, { recursive: true, force: true });
      if (waited > 120_000) throw new Error(`timed out waiting for ${lockDir} (another build)`);
      await sleep(50);
    }
  }
  try {
    if (!isFresh()) await build();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await build();
