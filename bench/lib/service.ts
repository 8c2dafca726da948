import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { startServerChild, type ServerChild } from "./child-process.js";
import { repoRoot } from "./paths.js";

/** Where the service keeps its data. */
export type ServiceStorage =
  | { kind: "embedded"; dataDir: string }
  | { kind: "external"; databaseUrl: string; jwtSecret: string };

/**
 * Operator settings of the bench run: the auth rate limits are off (every load comes from
 * 127.0.0.1, and a budget of 30 sign-ins a minute would turn the run into a 429 benchmark).
 * Nothing else differs from `npm start` (queries over a tenant's share of the pool wait, they are
 * not refused).
 */
export const benchServiceFlags = ["--signup-rate-limit", "0", "--signin-rate-limit", "0", "--refresh-rate-limit", "0"];

/** Options of {@link startService}. */
export interface StartServiceOptions {
  storage: ServiceStorage;
  /** Write a V8 CPU profile into this folder on exit (`node --cpu-prof`). */
  cpuProfileDir?: string;
  /** More service flags (after the bench's own). */
  extraFlags?: readonly string[];
}

/** The server's JSON log line that carries `"url":"http://…"`. */
function urlOf(line: string): string | undefined {
  if (!line.includes('"url"')) return undefined;
  try {
    const record = JSON.parse(line) as { url?: unknown };
    return typeof record.url === "string" && record.url.startsWith("http") ? record.url : undefined;
  } catch {
    return undefined;
  }
}

let built = false;

/** Builds `dist/` once per bench run (the launcher would build a stale `dist/` itself, but inside the measured start-up). */
function buildOnce(): void {
  if (built) return;
  execFileSync(process.execPath, [join(repoRoot, "scripts", "build.mjs")], { cwd: repoRoot, stdio: "inherit" });
  built = true;
}

/**
 * Starts the real server as a child process the way `npm start` runs it — `bin/heliosdb-nano
 * --host 127.0.0.1 --port 0 …` (its launch environment, then the compiled `dist/`) after building
 * `dist/` — and resolves with its URL (from its log) and the pid of its node process (the launcher
 * execs node). `UV_THREADPOOL_SIZE` is inherited unchanged.
 */
export function startService(options: StartServiceOptions): Promise<ServerChild> {
  buildOnce();
  const { storage } = options;
  // Secrets travel in the environment, not in argv (which `ps` shows).
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => name !== "DATABASE_URL" && name !== "HELIOS_JWT_SECRET"),
  );
  const storageFlags = storage.kind === "embedded" ? ["--data-dir", storage.dataDir] : [];
  const env =
    storage.kind === "embedded"
      ? inherited
      : { ...inherited, DATABASE_URL: storage.databaseUrl, HELIOS_JWT_SECRET: storage.jwtSecret };
  const serviceFlags = ["--host", "127.0.0.1", "--port", "0", ...storageFlags, ...benchServiceFlags, ...(options.extraFlags ?? [])];
  // Node 20 refuses --cpu-prof in NODE_OPTIONS, so a profiled service is node running the launcher's
  // script itself, without the launcher's environment (which changes memory, not the CPU profile).
  const launch = options.cpuProfileDir
    ? { args: ["--cpu-prof", "--cpu-prof-dir", options.cpuProfileDir, join(repoRoot, "bin", "heliosdb-nano.js"), ...serviceFlags] }
    : { command: join(repoRoot, "bin", "heliosdb-nano"), args: serviceFlags };
  return startServerChild({
    ...launch,
    env,
    cwd: repoRoot,
    urlOf,
    timeoutMs: 120_000,
  });
}
