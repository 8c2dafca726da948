import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ConfigError, minSecretBytes } from "./config.js";

/** File in the data directory holding the generated secret of embedded mode. */
export const secretFileName = "jwt-secret";

/**
 * The HS256 signing secret. A configured secret wins. Embedded storage otherwise generates one on
 * first start and keeps it (owner-only) in the data directory, so tokens survive restarts; a shared
 * PostgreSQL has no such private place, so that mode refuses to start without a configured secret.
 */
export async function resolveJwtSecret(options: {
  configured: string | undefined;
  mode: "embedded" | "external";
  dataDir: string;
}): Promise<string> {
  if (options.configured !== undefined) return options.configured;
  if (options.mode === "external") {
    throw new ConfigError(
      `--database-url needs --jwt-secret (or HELIOS_JWT_SECRET) of at least ${minSecretBytes} bytes, shared by every instance`,
    );
  }
  const file = join(options.dataDir, secretFileName);
  try {
    const stored = (await readFile(file, "utf8")).trim();
    if (Buffer.byteLength(stored) < minSecretBytes) throw new ConfigError(`${file} holds a secret shorter than ${minSecretBytes} bytes`);
    await chmod(file, 0o600);
    return stored;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  await mkdir(options.dataDir, { recursive: true });
  const secret = randomBytes(48).toString("base64url");
  await writeFile(file, `${secret}\n`, { mode: 0o600, flag: "wx" });
  return secret;
}
