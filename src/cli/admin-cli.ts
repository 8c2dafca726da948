import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { ConnectError } from "@connectrpc/connect";
import { flags as serverFlags, logLevels, type LogLevel } from "../config/config.js";
import { openAdminStorage } from "../db/admin-storage.js";
import { CLUSTER_DIR } from "../db/embedded-postgres.js";
import { reasonOf } from "../errors/catalogue.js";
import { createLogger } from "../logging/logger.js";
import { adminCommands, type AdminCommand, type CommandWork } from "./admin-commands.js";

/** Exit codes of `heliosdb-nano admin`: done, the work failed, bad command line. */
export const exitCodes = { ok: 0, failure: 1, usage: 2 } as const;

/** Where the admin CLI writes; the process streams by default. */
export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

/** A bad command line: one line on stderr, exit 2. */
class UsageError extends Error {}

/** Flags every admin command takes: where the storage is, and how much to log. */
const storageFlags = {
  "data-dir": serverFlags["data-dir"].help,
  "database-url": `${serverFlags["database-url"].help} [env DATABASE_URL]`,
  "log-level": `one of ${logLevels.join(", ")} (default warn)`,
};

/** The text of `heliosdb-nano admin --help`. */
export function adminHelpText(): string {
  const line = (flag: string, help: string) => `  ${flag.padEnd(34)}${help}`;
  const commands = Object.entries(adminCommands).flatMap(([name, command]) => [
    "",
    `heliosdb-nano admin ${name}: ${command.summary}`,
    ...Object.entries(command.flags).map(([flag, spec]) =>
      line(spec.switch ? `--${flag}` : `--${flag} <value>`, `${spec.required ? "(required) " : ""}${spec.help}`),
    ),
  ]);
  return [
    "Usage: heliosdb-nano admin <command> [flags]",
    "",
    "Administers the storage of a server, running or stopped: embedded (--data-dir) or external",
    "(--database-url). Exit codes: 0 done, 1 failed, 2 bad command line.",
    ...commands,
    "",
    "Flags of every command:",
    ...Object.entries(storageFlags).map(([flag, help]) => line(`--${flag} <value>`, help)),
    line("--help", "print this help"),
    "",
    "Example: create the first admin key, then use it with AdminService (/admin/v1/...):",
    "  heliosdb-nano admin create-key --name ops --scopes admin",
  ].join("\n");
}

interface Invocation {
  work: CommandWork;
  dataDir: string;
  databaseUrl: string | undefined;
  logLevel: LogLevel;
}

/** Parses `argv` (after `admin`) strictly: undefined for help, else the command's work. */
function parseInvocation(argv: string[], env: NodeJS.ProcessEnv): Invocation | undefined {
  const [name, ...rest] = argv;
  if (name === undefined || (name.startsWith("-") && name !== "--help" && name !== "-h")) throw new UsageError(`missing command (${Object.keys(adminCommands).join(", ")}); see heliosdb-nano admin --help`);
  if (name === "--help" || name === "-h" || name === "help") return undefined;
  const command: AdminCommand | undefined = Object.hasOwn(adminCommands, name) ? adminCommands[name] : undefined;
  if (!command) throw new UsageError(`unknown command "${name}" (${Object.keys(adminCommands).join(", ")}); see heliosdb-nano admin --help`);

  let values: Record<string, string | boolean | undefined>;
  try {
    const options: Record<string, { type: "string" | "boolean" }> = Object.fromEntries([
      ...Object.keys(storageFlags).map((flag) => [flag, { type: "string" }]),
      ...Object.entries(command.flags).map(([flag, spec]) => [flag, { type: spec.switch ? "boolean" : "string" }]),
    ]);
    values = parseArgs({ args: rest, options: { ...options, help: { type: "boolean" } }, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new UsageError((error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, " "));
  }
  if (values.help) return undefined;
  const strings: Record<string, string> = {};
  for (const [flag, value] of Object.entries(values)) {
    if (typeof value === "string") strings[flag] = value;
    else if (value === true && flag !== "help") strings[flag] = "true";
  }
  for (const [flag, spec] of Object.entries(command.flags)) {
    if (spec.required && (strings[flag] ?? "").trim() === "") throw new UsageError(`--${flag} is required`);
  }

  const databaseUrl = strings["database-url"] ?? env.DATABASE_URL;
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new UsageError("--database-url must start with postgres:// or postgresql://");
  }
  const logLevel = strings["log-level"] ?? "warn";
  if (!(logLevels as readonly string[]).includes(logLevel)) throw new UsageError(`--log-level must be one of ${logLevels.join(", ")}`);
  let work: CommandWork;
  try {
    work = command.prepare(strings);
  } catch (error) {
    if (error instanceof RangeError || (error instanceof ConnectError && reasonOf(error) === "validation_failed")) {
      throw new UsageError(error instanceof ConnectError ? error.rawMessage : error.message);
    }
    throw error;
  }
  return { work, dataDir: resolve(strings["data-dir"] ?? "helios-data"), databaseUrl, logLevel: logLevel as LogLevel };
}

/**
 * Runs `heliosdb-nano admin …` (`argv` without `admin`) and resolves with its exit code: flags are
 * checked before storage is opened, storage is closed (an embedded cluster started for the command
 * stopped) whatever happens, and failures are one line on stderr.
 */
export async function runAdminCli(argv: string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env }): Promise<number> {
  let invocation: Invocation | undefined;
  try {
    invocation = parseInvocation(argv, io.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(`heliosdb-nano admin: ${error.message}\n`);
    return exitCodes.usage;
  }
  if (!invocation) {
    io.stdout.write(`${adminHelpText()}\n`);
    return exitCodes.ok;
  }
  const logger = createLogger(invocation.logLevel, io.stderr);
  if (!invocation.databaseUrl && !existsSync(join(invocation.dataDir, CLUSTER_DIR, "PG_VERSION"))) {
    io.stderr.write(`No embedded storage in ${invocation.dataDir} yet: creating it (a server started there will use it).\n`);
  }
  try {
    const storage = await openAdminStorage({ dataDir: invocation.dataDir, databaseUrl: invocation.databaseUrl, logger });
    try {
      const output = await invocation.work(storage.orm, logger);
      io.stdout.write(output.stdout);
      if (output.stderr) io.stderr.write(output.stderr);
    } finally {
      await storage.close();
    }
    return exitCodes.ok;
  } catch (error) {
    const message = error instanceof ConnectError ? error.rawMessage : error instanceof Error ? error.message : String(error);
    io.stderr.write(`heliosdb-nano admin: ${message.replace(/\s*\n\s*/g, " ")}\n`);
    return exitCodes.failure;
  }
}
