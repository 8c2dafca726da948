import { writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import type { CliIo } from "./admin-cli.js";
import { exitCodes } from "./admin-cli.js";

/** The text of `heliosdb-nano gen types --help`. */
export function genTypesHelpText(): string {
  const line = (flag: string, help: string) => `  ${flag.padEnd(34)}${help}`;
  return [
    "Usage: heliosdb-nano gen types --typescript [flags]",
    "",
    "Prints a TypeScript module typing the tables, views and enums of schema public that the",
    "credential's role can read, in the shape of `supabase gen types typescript`",
    "(GET /api/v1/schema/typescript of a running server). Exit codes: 0 done, 1 failed, 2 bad command line.",
    "",
    line("--typescript", "(required) the language; the only one"),
    line("--url <value>", "the server (default http://127.0.0.1:6543) [env HELIOS_URL]"),
    line("--api-key <value>", "an API key with a data scope [env HELIOS_API_KEY]"),
    line("--token <value>", "or a user's access token [env HELIOS_TOKEN]"),
    line("--output <value>", "write to this file instead of stdout"),
    line("--help", "print this help"),
    "",
    "Example: heliosdb-nano gen types --typescript --api-key \"$ADMIN_KEY\" > database.types.ts",
  ].join("\n");
}

class UsageError extends Error {}

interface Invocation {
  url: string;
  headers: Record<string, string>;
  output: string | undefined;
}

function parseInvocation(argv: string[], env: NodeJS.ProcessEnv): Invocation | undefined {
  const [subject, ...rest] = argv;
  if (subject === "--help" || subject === "-h" || subject === "help") return undefined;
  if (subject !== "types") throw new UsageError(`unknown generator "${subject ?? ""}" (types); see heliosdb-nano gen types --help`);
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: rest,
      options: {
        typescript: { type: "boolean" },
        url: { type: "string" },
        "api-key": { type: "string" },
        token: { type: "string" },
        output: { type: "string" },
        help: { type: "boolean" },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new UsageError((error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, " "));
  }
  if (values.help) return undefined;
  if (!values.typescript) throw new UsageError("--typescript is required (the only language)");
  const text = (name: string, variable: string) => {
    const value = values[name];
    return typeof value === "string" ? value : env[variable];
  };
  const url = text("url", "HELIOS_URL") ?? "http://127.0.0.1:6543";
  if (!/^https?:\/\/[^/]+/.test(url)) throw new UsageError(`--url must be an http:// or https:// URL, got "${url}"`);
  const apiKey = text("api-key", "HELIOS_API_KEY");
  const token = text("token", "HELIOS_TOKEN");
  if (apiKey && token) throw new UsageError("give --api-key or --token, not both");
  if (!apiKey && !token) throw new UsageError("--api-key or --token is required (or HELIOS_API_KEY / HELIOS_TOKEN)");
  const headers: Record<string, string> = apiKey ? { "x-api-key": apiKey } : { authorization: `Bearer ${token ?? ""}` };
  return { url: url.replace(/\/+$/, ""), headers, output: typeof values.output === "string" ? values.output : undefined };
}

/**
 * Runs `heliosdb-nano gen …` (`argv` without `gen`) and resolves with its exit code: the server's
 * `/api/v1/schema/typescript` answer goes to stdout (or `--output`); its errors are one line on
 * stderr with the catalogue reason.
 */
export async function runGenCli(argv: string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env }): Promise<number> {
  let invocation: Invocation | undefined;
  try {
    invocation = parseInvocation(argv, io.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(`heliosdb-nano gen: ${error.message}\n`);
    return exitCodes.usage;
  }
  if (!invocation) {
    io.stdout.write(`${genTypesHelpText()}\n`);
    return exitCodes.ok;
  }
  try {
    const res = await fetch(`${invocation.url}/api/v1/schema/typescript`, { headers: invocation.headers });
    const body = await res.text();
    if (res.status !== 200) {
      let reason = `HTTP ${res.status}`;
      try {
        const error = JSON.parse(body) as { error?: string; message?: string };
        reason = `${error.error ?? reason}: ${error.message ?? ""}`;
      } catch {
        // Not one of our answers; the status says enough.
      }
      io.stderr.write(`heliosdb-nano gen: ${reason}\n`);
      return exitCodes.failure;
    }
    if (invocation.output) await writeFile(invocation.output, body);
    else io.stdout.write(body);
    return exitCodes.ok;
  } catch (error) {
    const cause = (error as { cause?: { message?: string } }).cause?.message;
    const message = error instanceof Error ? error.message : String(error);
    io.stderr.write(`heliosdb-nano gen: cannot reach ${invocation.url}: ${cause ?? message}\n`);
    return exitCodes.failure;
  }
}
