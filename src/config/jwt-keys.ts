import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { algorithmOfKey, assertKeyFits, type AsymmetricAlgorithm, type AsymmetricKey, type AsymmetricKeyRing } from "../auth/signing-keys.js";
import { ConfigError, type AuthConfig } from "./config.js";

/** File in the data directory holding the generated key pairs of embedded mode. */
export const keyRingFileName = "jwt-signing-keys.json";

/** One key pair as kept in {@link keyRingFileName}. */
interface StoredKey {
  alg: AsymmetricAlgorithm;
  /** PKCS#8 PEM. */
  private_key: string;
  created_at: string;
  /** Set once another key signs; the key is dropped a token lifetime (and the skew) later. */
  retired_at: string | null;
}

/** What {@link resolveSigningKeys} reads. */
export interface SigningKeyOptions {
  config: Pick<AuthConfig, "jwtAlgorithm" | "jwtPrivateKey" | "jwtPreviousPublicKeys" | "tokenExpirySeconds" | "clockSkewSeconds">;
  mode: "embedded" | "external";
  dataDir: string;
  /** Clock in milliseconds; default `Date.now`. */
  now?: () => number;
}

const pemBlock = /-----BEGIN ([A-Z ]+)-----[\s\S]+?-----END \1-----/g;

/** PEM text as given, or the contents of the files it names (comma-separated). */
async function pemText(value: string, flag: string): Promise<string> {
  if (value.includes("-----BEGIN ")) return value;
  const paths = value.split(",").map((path) => path.trim()).filter((path) => path !== "");
  const texts = await Promise.all(
    paths.map((path) =>
      readFile(path, "utf8").catch((error: NodeJS.ErrnoException) => {
        throw new ConfigError(`--${flag}: cannot read ${path} (${error.code ?? error.message})`);
      }),
    ),
  );
  return texts.join("\n");
}

function parseKey<T>(parse: () => T, what: string): T {
  try {
    return parse();
  } catch {
    // The error text of a key parser may quote the key: say only what failed.
    throw new ConfigError(`${what} is not a valid PEM key`);
  }
}

function generate(alg: AsymmetricAlgorithm): KeyObject {
  return alg === "ES256"
    ? generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey
    : generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
}

async function configuredRing(options: SigningKeyOptions, alg: AsymmetricAlgorithm, privatePem: string): Promise<AsymmetricKeyRing> {
  const text = await pemText(privatePem, "jwt-private-key");
  const privateKey = parseKey(() => createPrivateKey(text), "--jwt-private-key");
  assertKeyFits(privateKey, alg, "--jwt-private-key");
  const previousText = options.config.jwtPreviousPublicKeys;
  const blocks = previousText === undefined ? [] : ((await pemText(previousText, "jwt-previous-public-keys")).match(pemBlock) ?? []);
  if (previousText !== undefined && blocks.length === 0) throw new ConfigError("--jwt-previous-public-keys holds no PEM key");
  const previous: AsymmetricKey[] = blocks.map((block, index) => {
    const what = `--jwt-previous-public-keys key ${index + 1}`;
    const publicKey = parseKey(() => createPublicKey(block), what);
    return { alg: algorithmOfKey(publicKey, what), publicKey };
  });
  return { current: { alg, privateKey, publicKey: createPublicKey(privateKey) }, previous };
}

async function readStored(file: string): Promise<StoredKey[]> {
  try {
    const parsed = JSON.parse(await readFile(file, "utf8")) as { keys?: StoredKey[] };
    await chmod(file, 0o600);
    if (!Array.isArray(parsed.keys)) throw new ConfigError(`${file} has no "keys" list`);
    return parsed.keys;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    if (error instanceof SyntaxError) throw new ConfigError(`${file} is not valid JSON`);
    throw error;
  }
}

/**
 * The key pairs of embedded mode, kept (owner-only) in the data directory like the HS256 secret:
 * generated on first start, and again when `--jwt-algorithm` names another algorithm than the
 * current key's (which is then retired). A retired key keeps verifying (and is published) until
 * every token it signed has expired, and is dropped from the file after that.
 */
async function storedRing(options: SigningKeyOptions, alg: AsymmetricAlgorithm): Promise<AsymmetricKeyRing> {
  const now = options.now?.() ?? Date.now();
  const file = join(options.dataDir, keyRingFileName);
  const lifetimeMs = (options.config.tokenExpirySeconds + options.config.clockSkewSeconds) * 1000;
  const stored = await readStored(file);
  let keys = stored.filter((key) => key.retired_at === null || Date.parse(key.retired_at) + lifetimeMs > now);
  let current = keys.find((key) => key.retired_at === null && key.alg === alg);
  let changed = keys.length !== stored.length;
  if (!current) {
    changed = true;
    const at = new Date(now).toISOString();
    keys = keys.map((key) => (key.retired_at === null ? { ...key, retired_at: at } : key));
    current = { alg, private_key: generate(alg).export({ format: "pem", type: "pkcs8" }).toString(), created_at: at, retired_at: null };
    keys.push(current);
  }
  if (changed) {
    await mkdir(options.dataDir, { recursive: true });
    const temporary = `${file}.${process.pid}.tmp`;
    await writeFile(temporary, `${JSON.stringify({ keys }, null, 2)}\n`, { mode: 0o600 });
    await rename(temporary, file);
  }
  const privateKey = parseKey(() => createPrivateKey(current.private_key), `${file}`);
  const previous = keys
    .filter((key) => key !== current)
    .map((key) => {
      const publicKey = parseKey(() => createPublicKey(key.private_key), `${file}`);
      return { alg: algorithmOfKey(publicKey, file), publicKey, retiredAt: key.retired_at === null ? undefined : new Date(key.retired_at) };
    });
  return { current: { alg, privateKey, publicKey: createPublicKey(privateKey) }, previous };
}

/**
 * The key pairs of ES256/RS256 signing; undefined under HS256. Configured keys win
 * (`--jwt-private-key`, `--jwt-previous-public-keys`): what several instances on one database must
 * share. Embedded storage otherwise generates and keeps them in the data directory; a shared
 * PostgreSQL has no such private place, so that mode refuses to start without a configured key.
 */
export async function resolveSigningKeys(options: SigningKeyOptions): Promise<AsymmetricKeyRing | undefined> {
  const { jwtAlgorithm: alg, jwtPrivateKey, jwtPreviousPublicKeys } = options.config;
  if (alg === "HS256") {
    if (jwtPrivateKey !== undefined || jwtPreviousPublicKeys !== undefined) {
      throw new ConfigError("--jwt-private-key and --jwt-previous-public-keys need --jwt-algorithm ES256 or RS256");
    }
    return undefined;
  }
  if (jwtPrivateKey !== undefined) return configuredRing(options, alg, jwtPrivateKey);
  if (options.mode === "external") {
    throw new ConfigError(`--jwt-algorithm ${alg} with --database-url needs --jwt-private-key (or HELIOS_JWT_PRIVATE_KEY), shared by every instance`);
  }
  if (jwtPreviousPublicKeys !== undefined) throw new ConfigError("--jwt-previous-public-keys needs --jwt-private-key");
  return storedRing(options, alg);
}
