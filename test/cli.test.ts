import { execFile, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, readdirSync, readFileSync, statSync, utimesSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { flags } from "../src/config/config.js";
import { freshDataDir, removeDataDir } from "./support/postgres.js";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..");
const bin = join(root, "bin", "heliosdb-nano.js");
/** The package binary and `npm start`: a shell launcher that sets the launch environment, then runs {@link bin}. */
const launcher = join(root, "bin", "heliosdb-nano");

/** Runs the CLI to completion; resolves with its exit code and output whatever the code. */
async function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], {
      env: { PATH: process.env.PATH, ...env },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe("heliosdb-nano CLI", () => {
  it("--help lists every flag", async () => {
    const { code, stdout } = await cli(["--help"]);
    expect(code).toBe(0);
    for (const name of Object.keys(flags)) expect(stdout).toContain(`--${name}`);
    for (const required of ["--mode", "--host", "--port", "--data-dir", "--database-url", "--token-expiry",
      "--refresh-token-expiry", "--jwt-secret", "--tls-cert", "--tls-key", "--log-level"]) {
      expect(stdout).toContain(required);
    }
  });

  it.each([
    [["--port", "70000"], /--port must be between 0 and 65535/],
    [["--port", "abc"], /--port must be a whole number/],
    [["--token-expiry=-5"], /--token-expiry must be a whole number/],
    [["--log-level", "loud"], /--log-level must be one of/],
    [["--mode", "client"], /--mode must be "server"/],
    [["--jwt-secret", "short"], /--jwt-secret must be at least 32 bytes/],
    [["--tls-cert", "a.pem"], /--tls-cert and --tls-key must be given together/],
    [["--database-url", "mysql://x"], /--database-url must start with postgres/],
    [["--no-such-flag"], /Unknown option '--no-such-flag'/],
  ])("rejects %j with exit 2 and one line", async (args, reason) => {
    const { code, stderr } = await cli(args);
    expect(code).toBe(2);
    expect(stderr.trim().split("\n")).toHaveLength(1);
    expect(stderr).toMatch(reason);
  });

  it("refuses a taken port at once, naming --port, before creating any storage", async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as net.AddressInfo).port;
    const dataDir = freshDataDir("port-taken");
    try {
      const { code, stderr } = await cli(["--host", "127.0.0.1", "--port", String(port), "--data-dir", dataDir]);
      expect(code).toBe(1);
      expect(stderr.trim().split("\n")).toEqual([
        `heliosdb-nano: failed to start: port ${port} on 127.0.0.1 is already in use (is another server running?): stop it, or choose another port with --port`,
      ]);
      expect(readdirSync(dataDir)).toEqual([]); // no initdb, no secrets
    } finally {
      taken.close();
      await removeDataDir(dataDir);
    }
  });

  it("refuses PostgreSQL mode without a JWT secret", async () => {
    const { code, stderr } = await cli(["--database-url", "postgres://postgres@127.0.0.1:1/none"]);
    expect(code).not.toBe(0);
    expect(stderr.trim().split("\n")).toHaveLength(1);
  });
});

/** The environment a running process started with (`/proc/<pid>/environ`). */
function environOf(pid: number): Map<string, string> {
  const entries = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").filter(Boolean);
  return new Map(entries.map((entry) => [entry.slice(0, entry.indexOf("=")), entry.slice(entry.indexOf("=") + 1)]));
}

/** The pid of the node process running {@link bin} at or below `pid` in the process tree. */
function serverPidUnder(pid: number): number | undefined {
  if (readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes(bin)) return pid;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    const children = readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").trim().split(" ").filter(Boolean);
    for (const child of children) {
      const found = serverPidUnder(Number(child));
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

describe("npm start (the quick start)", () => {
  const dataDir = freshDataDir("quickstart");
  /** Servers started here; one a failed assertion left running is killed with its process group. */
  const started = new Set<ChildProcess>();
  afterEach(() => {
    for (const child of started) if (child.exitCode === null && child.signalCode === null) process.kill(-(child.pid as number), "SIGKILL");
    started.clear();
  });
  afterAll(() => removeDataDir(dataDir));

  /** Starts a server process (in its own process group) and waits for its listening line. */
  async function start(command: string, args: string[], env: NodeJS.ProcessEnv = {}) {
    const child = spawn(command, [...args, "--port", "0", "--data-dir", dataDir], {
      cwd: root,
      env: { ...process.env, LOG_LEVEL: "info", ...env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    started.add(child);
    let output = "";
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listening line:\n${output}`)), 60_000);
      child.stdout.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        const match = /"url":"(http:\/\/[^"]+)"/.exec(output);
        if (match?.[1]) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      });
      child.on("exit", (code) => reject(new Error(`exited with ${code}:\n${output}`)));
    });
    return { child, url, output: () => output };
  }

  it("serves with embedded storage and stops it on Ctrl-C", async () => {
    const { child, url, output } = await start("npm", ["start", "--silent", "--"], { MALLOC_ARENA_MAX: "2" });
    expect(await (await fetch(`${url}/ready`)).json()).toEqual({ status: "ready" });
    // npm start runs the launcher, which keeps an operator's own glibc arena limit.
    const server = serverPidUnder(child.pid as number);
    expect(server).toBeDefined();
    expect(environOf(server as number).get("MALLOC_ARENA_MAX")).toBe("2");
    expect(output()).toContain(dataDir);
    process.kill(-(child.pid as number), "SIGINT"); // what a terminal's Ctrl-C does
    await once(child, "exit");
    expect(existsSync(join(dataDir, "pg", "postmaster.pid"))).toBe(false);
    expect(statSync(join(dataDir, "jwt-secret")).mode & 0o777).toBe(0o600);
  });

  it("starts again on the same data directory through the package binary, with one malloc arena, and exits 0 on SIGTERM", async () => {
    // The binary runs dist/, rebuilt first when a source changed since the last build.
    const touched = new Date();
    utimesSync(join(root, "src", "main.ts"), touched, touched);
    const { child, url } = await start(launcher, [], { MALLOC_ARENA_MAX: undefined });
    expect(statSync(join(root, "dist", ".sources")).mtimeMs).toBeGreaterThanOrEqual(touched.getTime() - 1);
    expect(readFileSync(bin, "utf8")).toContain('import("../dist/src/main.js")');
    // The launcher execs node: the child is the server, started with glibc's arenas limited to one.
    expect(serverPidUnder(child.pid as number)).toBe(child.pid);
    expect(environOf(child.pid as number).get("MALLOC_ARENA_MAX")).toBe("1");
    expect(await (await fetch(`${url}/ready`)).json()).toEqual({ status: "ready" });
    child.kill("SIGTERM");
    const [code] = await once(child, "exit");
    expect(code).toBe(0);
    expect(existsSync(join(dataDir, "pg", "postmaster.pid"))).toBe(false);
  });
});

describe("log format", () => {
  const dataDir = freshDataDir("log-format");
  afterAll(() => removeDataDir(dataDir));

  // A pretty line: local time, level name, message (pino-pretty), instead of a JSON object.
  const prettyListening = /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] INFO.*: HeliosDB Nano listening on 127\.0\.0\.1:\d+ \{"url":"http:\/\/127\.0\.0\.1:\d+"/m;
  // eslint-disable-next-line no-control-regex
  const withoutColours = (text: string) => text.replace(/\u001b\[[0-9;]*m/g, "").replace(/\r/g, "");

  /** Runs `command` until its output shows the listening line, then stops the server with SIGTERM. */
  async function serveUntilListening(command: string, args: string[], serverPid: (output: string) => number | undefined) {
    const child = spawn(command, args, { cwd: root, env: { ...process.env, LOG_LEVEL: "info" }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = once(child, "exit");
    const deadline = Date.now() + 80_000;
    while (!/HeliosDB Nano listening/.test(output)) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no listening line:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    process.kill(serverPid(output) ?? (child.pid as number), "SIGTERM");
    await exited;
    return withoutColours(output);
  }

  it("prints readable lines with --log-format pretty", { timeout: 90_000 }, async () => {
    const output = await serveUntilListening(process.execPath, [bin, "--log-format", "pretty", "--host", "127.0.0.1", "--port", "0", "--data-dir", dataDir], () => undefined);
    expect(output).toMatch(prettyListening);
    expect(output).not.toMatch(/^\{/m);
  });

  it("prints readable lines when stdout is a terminal (a pty from script), JSON when it is not", { timeout: 90_000 }, async () => {
    // `script` gives the server a pseudo-terminal; the shell prints its pid, which exec keeps for node.
    const inner = `echo pid=$$; exec ${process.execPath} ${bin} --host 127.0.0.1 --port 0 --data-dir ${dataDir}`;
    const output = await serveUntilListening("script", ["-qfec", `sh -c '${inner}'`, "/dev/null"], (text) => {
      const pid = /^pid=(\d+)$/m.exec(text)?.[1];
      return pid ? Number(pid) : undefined;
    });
    expect(output).toMatch(prettyListening);
    expect(output).not.toMatch(/^\{"level"/m);
    // The same command with stdout piped (the npm start suite above reads the JSON "url" field).
    const piped = await serveUntilListening(process.execPath, [bin, "--host", "127.0.0.1", "--port", "0", "--data-dir", dataDir], () => undefined);
    expect(piped).toMatch(/^\{"level":30,.*"msg":"HeliosDB Nano listening on 127\.0\.0\.1:\d+"\}$/m);
  });

  it("rejects an unknown format", async () => {
    const { code, stderr } = await cli(["--log-format", "xml"]);
    expect(code).toBe(2);
    expect(stderr.trim()).toBe('heliosdb-nano: --log-format must be one of json, pretty, got "xml"');
  });
});
