// Compiles src/ and gen/ into dist/ (git-ignored) with esbuild, file by file: `npm start` runs that
// JavaScript, not the TypeScript through tsx, whose loader thread costs ~40 MB of resident memory
// for the life of the server. Type checking stays with `npm run typecheck`.
import { readdirSync, rmSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { buildSync } from "esbuild";

const root = join(dirname(new URL(import.meta.url).pathname), "..");
const outdir = join(root, "dist");

/** The .ts files (declarations excepted) under `dir`. */
function sources(dir) {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((path) => path.endsWith(".ts") && !path.endsWith(".d.ts"))
    .map((path) => join(dir, path));
}

rmSync(outdir, { recursive: true, force: true });
buildSync({
  entryPoints: [...sources(join(root, "src")), ...sources(join(root, "gen"))].map((file) => relative(root, file)),
  absWorkingDir: root,
  outdir,
  outbase: ".",
  format: "esm",
  platform: "node",
  target: "node20",
  sourcemap: true,
  logLevel: "warning",
});
