#!/usr/bin/env node
// The package binary: runs the same compiled JavaScript as `npm start` (dist/, no TypeScript loader
// at run time), building it first when it is missing or older than the sources.
import { ensureBuilt } from "../scripts/build.mjs";

await ensureBuilt();
await import("../dist/src/main.js");
