import { Writable } from "node:stream";
import { configFromValues, parseFlags, type Config } from "../../src/config/config.js";
import { createLogger } from "../../src/logging/logger.js";
import { startServer, type RunningServer } from "../../src/app/server.js";
import { testJwtSecret } from "./jwt-secret.js";
import { createScratchDatabase, externalDatabaseUrl, freshDataDir, removeDataDir } from "./postgres.js";

/** Which storage a suite runs on. */
export type Backend = "embedded" | "external";

/** A server started for a test, with everything it logged. */
export interface TestServer extends RunningServer {
  readonly config: Config;
  /** Every log line written so far (JSON text). */
  logs(): string;
  /** A connection URL of the owner role, for assertions that look under the API. */
  readonly backend: Backend;
}

export { testJwtSecret };

const externalUrl = await externalDatabaseUrl();

/** The backends available here: embedded always, external when a PostgreSQL is reachable. */
export const backends: Backend[] = externalUrl ? ["embedded", "external"] : ["embedded"];

/**
 * Starts the real server on 127.0.0.1 port 0 over `backend` with extra CLI `flags`. Embedded
 * storage gets a fresh data directory; external storage a scratch database dropped on close,
 * unless `flags` name a `--database-url` (the caller's to drop).
 */
export async function startTestServer(backend: Backend, flags: string[] = []): Promise<TestServer> {
  const args = ["--host", "127.0.0.1", "--port", "0", ...flags];
  let cleanUp: (() => Promise<void>) | undefined;
  if (backend === "embedded") {
    if (!flags.includes("--data-dir")) {
      const dir = freshDataDir();
      args.push("--data-dir", dir);
      cleanUp = () => removeDataDir(dir);
    }
  } else {
    if (!externalUrl) throw new Error("no external PostgreSQL reachable");
    // A suite that names its database (several instances on one) owns it; otherwise a scratch one.
    if (!flags.includes("--database-url")) {
      const scratch = await createScratchDatabase(externalUrl);
      cleanUp = scratch.drop;
      args.push("--database-url", scratch.url);
    }
    if (!flags.includes("--jwt-secret")) args.push("--jwt-secret", testJwtSecret);
  }
  const parsed = parseFlags(args, {});
  if (parsed.help) throw new Error("unexpected --help");
  const config = configFromValues(parsed.values);
  let logText = "";
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logText += chunk.toString();
      done();
    },
  });
  const server = await startServer({ ...config, logLevel: "debug" }, createLogger("debug", sink));
  return {
    ...server,
    config,
    backend,
    logs: () => logText,
    close: async () => {
      await server.close();
      await cleanUp?.();
    },
  };
}
