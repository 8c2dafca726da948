#!/usr/bin/env node
// Runs the compiled service (dist/, no TypeScript loader at run time), building it first when it is
// missing or older than the sources. `bin/heliosdb-nano` (the package binary and `npm start`) runs
// this file with the launch environment; run directly, it is the same program without it.
import { ensureBuilt } from "../scripts/build.mjs";

await ensureBuilt();
await import("../dist/src/main.js");
