import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

/** A server running as a child process, as an operator starts it. */
export interface ChildServer {
  readonly url: string;
  readonly pid: number;
  readonly process: ChildProcess;
  /** Every line it wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code and signal once it has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends `signal` and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `node --import tsx src/main.ts --host 127.0.0.1 --port 0 <flags>` and resolves once it logs
 * its URL (the JSON line that has `url`). Rejects with the output when it exits first or takes longer
 * than `timeoutMs`.
 */
export async function startChildServer(flags: string[], timeoutMs = 90_000): Promise<ChildServer> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts", "--host", "127.0.0.1", "--port", "0", ...flags], {
    cwd: repoRoot,
    env: Object.fromEntries(Object.entries(process.env).filter(([name]) => !["LOG_LEVEL", "DATABASE_URL", "PORT"].includes(name))),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let text = "";
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start within ${timeoutMs} ms:\n${text}`)), timeoutMs);
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on("line", (line) => {
        text += `${line}\n`;
        try {
          const parsed = JSON.parse(line) as { url?: unknown };
          if (typeof parsed.url === "string") {
            clearTimeout(timer);
            resolve(parsed.url);
          }
        } catch {
          // Not a log line.
        }
      });
    }
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`server exited (code ${code}, signal ${signal}) before it listened:\n${text}`));
    });
  });
  return {
    url,
    pid: child.pid as number,
    process: child,
    output: () => text,
    exited,
    stop(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
