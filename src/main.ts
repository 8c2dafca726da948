import { runAdminCli } from "./cli/admin-cli.js";
import { runGenCli } from "./cli/gen-types-cli.js";
import { ConfigError, configFromValues, helpText, parseFlags } from "./config/config.js";
import { createLogger } from "./logging/logger.js";
import { startServer } from "./app/server.js";

/**
 * CLI entry: flags → config → server; exits non-zero with a one-line reason on bad input.
 * `heliosdb-nano admin …` runs an administrative command instead, `heliosdb-nano gen types …`
 * generates types (see `src/cli/`).
 */
async function main(argv: string[]): Promise<void> {
  const parsed = parseFlags(argv, process.env);
  if (parsed.help) {
    console.log(helpText());
    return;
  }
  const config = configFromValues(parsed.values);
  const logger = createLogger(config.logLevel);
  const server = await startServer(config, logger);
  logger.info(
    { url: server.url, storage: server.storage.mode, dataDir: server.storage.mode === "embedded" ? config.dataDir : undefined },
    `HeliosDB Nano listening on ${config.host}:${server.port}`,
  );
  const stop = (signal: string) => {
    logger.info({ signal }, "shutting down");
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

const argv = process.argv.slice(2);
const subcommands: Record<string, (args: string[]) => Promise<number>> = { admin: runAdminCli, gen: runGenCli };
const subcommand = argv[0] === undefined ? undefined : subcommands[argv[0]];
const run = subcommand ? subcommand(argv.slice(1)).then((code) => process.exit(code)) : main(argv);

run.catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  console.error(`heliosdb-nano: ${error instanceof ConfigError ? "" : "failed to start: "}${message}`);
  process.exit(error instanceof ConfigError ? 2 : 1);
});
