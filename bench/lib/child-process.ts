import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { specVariable, type LoadResult, type WorkerMessage } from "./worker-protocol.js";

/** Hooks called when a worker opens and closes its measured window. */
export interface WindowHooks {
  onMeasuring?(): void;
  onMeasured?(): void;
}

/** The command line that runs a TypeScript file with tsx. */
export function tsxArgs(script: string, nodeFlags: readonly string[] = []): string[] {
  return [...nodeFlags, "--import", "tsx", script];
}

/** Keeps the last lines a child wrote, for error messages. */
function tail(child: ChildProcess, keep = 30): () => string {
  const lines: string[] = [];
  if (child.stderr) {
    createInterface({ input: child.stderr, crlfDelay: Infinity }).on("line", (line) => {
      lines.push(line);
      if (lines.length > keep) lines.shift();
    });
  }
  return () => lines.join("\n");
}

/**
 * Runs a load worker (`bench/workers/*.ts`) with `spec` (JSON in `BENCH_SPEC`) and returns its
 * {@link LoadResult}; calls `hooks` at the edges of its measured window.
 */
export function runWorker(script: string, spec: unknown, hooks: WindowHooks = {}): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, tsxArgs(script), {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, [specVariable]: JSON.stringify(spec) },
    });
    const stderr = tail(child);
    let result: LoadResult | undefined;
    createInterface({ input: child.stdout!, crlfDelay: Infinity }).on("line", (line) => {
      let message: WorkerMessage;
      try {
        message = JSON.parse(line) as WorkerMessage;
      } catch {
        return;
      }
      if (message.type === "measuring") hooks.onMeasuring?.();
      else if (message.type === "measured") hooks.onMeasured?.();
      else if (message.type === "result") result = message.result;
    });
    child.once("error", reject);
    child.once("close", (code, signal) => {
      if (code === 0 && result) resolve(result);
      else reject(new Error(`worker ${script} failed (${signal ?? `exit code ${code}`}):\n${stderr()}`));
    });
  });
}

/** A long-running child process (a server) and how to stop it. */
export interface ServerChild {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly url: string;
  /** SIGTERM, then waits for the exit (SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<void>;
  /** The last lines it wrote. */
  output(): string;
}

/** Options of {@link startServerChild}. */
export interface ServerChildOptions {
  /** The program to run; node (this process's) when absent. */
  command?: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** Finds the URL in one stdout line, or returns undefined. */
  urlOf(line: string): string | undefined;
  timeoutMs: number;
  cwd?: string;
}

/** Starts a server child and resolves once one of its stdout lines names its URL. */
export function startServerChild(options: ServerChildOptions): Promise<ServerChild> {
  const child = spawn(options.command ?? process.execPath, options.args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: options.env ?? process.env,
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
  const lines: string[] = [];
  const remember = (line: string) => {
    lines.push(line);
    if (lines.length > 40) lines.shift();
  };
  const output = () => lines.join("\n");
  createInterface({ input: child.stderr!, crlfDelay: Infinity }).on("line", remember);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));

  const stop = async (graceMs = 30_000) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
  };

  return new Promise((resolve, reject) => {
    let found = false;
    const timer = setTimeout(() => {
      void stop(5_000);
      reject(new Error(`server did not report its URL within ${options.timeoutMs} ms:\n${output()}`));
    }, options.timeoutMs);
    createInterface({ input: child.stdout!, crlfDelay: Infinity }).on("line", (line) => {
      remember(line);
      if (found) return;
      const url = options.urlOf(line);
      if (url === undefined || child.pid === undefined) return;
      found = true;
      clearTimeout(timer);
      resolve({ child, pid: child.pid, url, stop, output });
    });
    child.once("exit", (code, signal) => {
      if (found) return;
      clearTimeout(timer);
      reject(new Error(`server exited before it was ready (${signal ?? `exit code ${code}`}):\n${output()}`));
    });
  });
}
