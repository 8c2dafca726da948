import { parseArgs } from "node:util";
import { resolve } from "node:path";

/** Log levels accepted by `--log-level`. */
export const logLevels = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
/** One of {@link logLevels}. */
export type LogLevel = (typeof logLevels)[number];
/** Log formats accepted by `--log-format`. */
export const logFormats = ["json", "pretty"] as const;
/** One of {@link logFormats}. */
export type LogFormat = (typeof logFormats)[number];

/** Per-window request budgets of the auth endpoints; 0 turns a limit off. */
export interface RateLimitConfig {
  windowSeconds: number;
  signUp: number;
  signIn: number;
  refresh: number;
}

/** Everything the auth service needs to know. */
export interface AuthConfig {
  /** HS256 signing secret; resolved at start (generated and kept in the data dir in embedded mode). */
  jwtSecret: string | undefined;
  /** Older secrets still accepted for verification (key rotation). */
  jwtPreviousSecrets: string[];
  issuer: string;
  audience: string;
  /** Tolerance for exp/nbf/iat between instances' clocks. */
  clockSkewSeconds: number;
  tokenExpirySeconds: number;
  refreshTokenExpirySeconds: number;
  refreshGraceSeconds: number;
  defaultTenant: string;
  disableSignup: boolean;
  rateLimit: RateLimitConfig;
  /** Bounds of the password-hashing queue (defaults: 100 waiting, 10 s). */
  hashQueue?: { queueLength?: number; queueTimeoutMs?: number };
  /** Signing algorithm of access tokens (`--jwt-algorithm`). */
  jwtAlgorithm: "HS256" | "ES256" | "RS256";
  /** PEM private key of ES256/RS256, or a path to one; generated and kept in the data dir when unset (embedded). */
  jwtPrivateKey: string | undefined;
  /** PEM public keys of retired key pairs (or comma-separated paths to them), still accepted for verification. */
  jwtPreviousPublicKeys: string | undefined;
  /** A password change needs the current password unless the session signed in this many seconds ago or less. */
  reauthWindowSeconds: number;
}

/** Bounds on the work one query may do. */
export interface QueryConfig {
  statementTimeoutMs: number;
  rowCap: number;
  maxSqlBytes: number;
  maxConcurrentPerTenant: number;
  /** Queries of one tenant that may wait for a connection beyond those running (default 200). */
  queueLength?: number;
  /** How long a query may wait in its tenant's queue (default 10 s). */
  queueTimeoutMs?: number;
  /** Most bytes PostgreSQL may send for one statement's answer. */
  maxResultBytes: number;
  /** Refuse (instead of warning about) unique and foreign keys of tenant tables without tenant_id. */
  strictTenancy?: boolean;
}

/** Bounds on the input of one schema inference request. */
export interface SchemaConfig {
  /** Most sample records (or CSV/NDJSON rows) per request. */
  maxSamples: number;
  /** Most bytes of samples (as JSON) or of a CSV/NDJSON document per request. */
  maxSampleBytes: number;
}

/** Pooler modes accepted by `--pooler`. */
export const poolerModes = ["auto", "none", "transaction"] as const;
/** One of {@link poolerModes}: probe at start, a direct connection, or a transaction-mode pooler. */
export type PoolerMode = (typeof poolerModes)[number];
/** How long a client may take, and how many connections it may hold. */
export interface ConnectionLimits {
  /**
   * Time a new connection has to show its protocol (the first bytes in cleartext, the handshake with
   * TLS), and then a request has to send its headers, each counted from its own start.
   */
  headersTimeoutMs: number;
  /** Time a request has, from its start, to arrive whole: headers and body. */
  requestTimeoutMs: number;
  /** Time a kept-alive HTTP/1.1 connection between requests, or an HTTP/2 session without streams, may stay idle. */
  idleTimeoutMs: number;
  /** Most connections open at once; connections beyond it are closed as they arrive. */
  maxConnections: number;
}

/** Bounds on what one `/rest/v1` request may ask for. */
export interface RestConfig {
  maxQueryBytes: number;
  maxInList: number;
  maxDepth: number;
}

/** The validated configuration of one server process. */
export interface Config {
  mode: "server";
  host: string;
  port: number;
  dataDir: string;
  databaseUrl: string | undefined;
  /** PostgreSQL itself, when `databaseUrl` is a pooler: LISTEN, the migration lock, role set-up. */
  directDatabaseUrl: string | undefined;
  /** What sits between the service and PostgreSQL at `databaseUrl`. */
  pooler: PoolerMode;
  tls: { certFile: string; keyFile: string } | undefined;
  logLevel: LogLevel;
  /** `--log-format`; undefined: pretty when stdout is a terminal, JSON otherwise. */
  logFormat: LogFormat | undefined;
  maxBodyBytes: number;
  shutdownTimeoutMs: number;
  /** Browser origins allowed by CORS: `"*"` (default; bearer tokens, no cookies) or a list. */
  cors: { origins: "*" | string[] };
  auth: AuthConfig;
  query: QueryConfig;
  rest: RestConfig;
  schema: SchemaConfig;
  /** Deadlines of slow clients and the cap on open connections. */
  connections: ConnectionLimits;
}

/** A flag value that cannot be used; the CLI prints the message and exits non-zero. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

interface FlagSpec {
  type: "string" | "boolean";
  env?: string;
  help: string;
}

/** Every command-line flag, with the environment variable that may supply it. */
export const flags = {
  mode: { type: "string", help: "run mode: server (default)" },
  host: { type: "string", help: "address to listen on (default 0.0.0.0)" },
  port: { type: "string", env: "PORT", help: "port to listen on (default 6543; 0 picks a free one)" },
  "data-dir": { type: "string", help: "embedded storage directory (default ./helios-data)" },
  "database-url": { type: "string", env: "DATABASE_URL", help: "use this PostgreSQL instead of embedded storage" },
  "direct-database-url": {
    type: "string",
    env: "DIRECT_DATABASE_URL",
    help: "PostgreSQL itself when --database-url is a connection pooler: LISTEN, migration lock, role set-up",
  },
  pooler: {
    type: "string",
    help: `what --database-url points at: ${poolerModes.join(", ")} (default auto: probed at start)`,
  },
  "token-expiry": { type: "string", help: "access token lifetime in seconds (default 3600)" },
  "refresh-token-expiry": { type: "string", help: "refresh token lifetime in seconds (default 604800, 7 days)" },
  "refresh-grace": { type: "string", help: "seconds a rotated refresh token may be replayed by a concurrent client (default 10)" },
  "jwt-secret": { type: "string", env: "HELIOS_JWT_SECRET", help: "HS256 signing secret, at least 32 bytes" },
  "jwt-previous-secrets": {
    type: "string",
    env: "HELIOS_JWT_PREVIOUS_SECRETS",
    help: "comma-separated older secrets still accepted for verification",
  },
  "jwt-issuer": { type: "string", help: "iss claim of issued tokens (default heliosdb-nano)" },
  "jwt-audience": { type: "string", help: "aud claim of issued tokens (default authenticated)" },
  "jwt-clock-skew": { type: "string", help: "seconds of clock difference tolerated on exp, nbf and iat (default 5)" },
  "default-tenant": { type: "string", help: "tenant of users who sign up without a tenant key (default: default)" },
  "disable-signup": { type: "boolean", help: "refuse sign-ups without a publishable key" },
  "rate-limit-window": { type: "string", help: "rate limit window in seconds (default 60)" },
  "signup-rate-limit": { type: "string", help: "sign-ups per window per IP (default 30; 0 = off)" },
  "signin-rate-limit": { type: "string", help: "sign-ins per window per IP, and failed ones per account and IP (ten times that per account; default 30; 0 = off)" },
  "refresh-rate-limit": { type: "string", help: "refreshes per window per IP (default 150; 0 = off)" },
  "hash-queue-length": {
    type: "string",
    help: "password hashes (sign-up, sign-in) that may wait for a thread; more get 503 server_busy (default 100)",
  },
  "hash-queue-timeout": { type: "string", help: "seconds a password hash may wait for a thread (default 10)" },
  "statement-timeout": { type: "string", help: "query statement timeout in seconds (default 5)" },
  "row-cap": { type: "string", help: "most rows one query returns (default 10000)" },
  "max-sql-bytes": { type: "string", help: "largest SQL text accepted (default 65536)" },
  "max-concurrent-queries": { type: "string", help: "concurrent queries per tenant; more wait in its queue (default 10, the query pool's size)" },
  "query-queue-length": {
    type: "string",
    help: "queries of one tenant that may wait for a connection beyond its running ones (default 200)",
  },
  "query-queue-timeout": { type: "string", help: "seconds a query may wait for a connection (default 10)" },
  "strict-tenancy": {
    type: "boolean",
    help: "refuse admin DDL creating a unique index, primary key or foreign key of a tenant table without tenant_id (default: warn)",
  },
  "max-body-bytes": { type: "string", help: "largest request body (default 1048576)" },
  "rest-max-query-bytes": { type: "string", help: "longest /rest query string in bytes (default 8192)" },
  "rest-max-in-list": { type: "string", help: "most values of one /rest in.(...) or (any) list (default 1000)" },
  "rest-max-depth": { type: "string", help: "deepest /rest and/or nesting and embedding (default 8)" },
  "schema-max-samples": { type: "string", help: "most sample records per schema inference request (default 10000)" },
  "schema-max-sample-bytes": { type: "string", help: "most bytes of samples or CSV/NDJSON per schema inference request (default 1048576)" },
  "shutdown-timeout": { type: "string", help: "seconds to let in-flight requests finish on shutdown (default 10)" },
  "tls-cert": { type: "string", help: "PEM certificate; with --tls-key serves TLS (h2 and http/1.1)" },
  "tls-key": { type: "string", help: "PEM private key" },
  "cors-origins": {
    type: "string",
    env: "HELIOS_CORS_ORIGINS",
    help: "comma-separated browser origins allowed by CORS, e.g. https://app.example.com (default *: any)",
  },
  "log-level": { type: "string", env: "LOG_LEVEL", help: `one of ${logLevels.join(", ")} (default info)` },
  "headers-timeout": {
    type: "string",
    help: "seconds a new connection has to show its protocol, then a request to send its headers (default 10)",
  },
  "request-timeout": { type: "string", help: "seconds a request has to arrive whole, headers and body (default 30)" },
  "idle-timeout": { type: "string", help: "seconds a kept-alive connection or HTTP/2 session may stay idle (default 30)" },
  "max-result-bytes": {
    type: "string",
    help: "largest query answer, in bytes as PostgreSQL sends it; larger ones fail with result_too_large (default 67108864, 64 MiB)",
  },
  "max-connections": { type: "string", help: "most client connections open at once; more are closed on arrival (default 10000)" },
  "log-format": {
    type: "string",
    env: "LOG_FORMAT",
    help: "json (one JSON object a line) or pretty (readable lines); default: pretty when stdout is a terminal, else json",
  },
  "jwt-algorithm": { type: "string", env: "HELIOS_JWT_ALGORITHM", help: "access token signing: HS256 (default), ES256 or RS256" },
  "jwt-private-key": {
    type: "string",
    env: "HELIOS_JWT_PRIVATE_KEY",
    help: "ES256/RS256 signing key: PKCS#8 PEM text or a path to it (default: generated and kept in --data-dir)",
  },
  "jwt-previous-public-keys": {
    type: "string",
    env: "HELIOS_JWT_PREVIOUS_PUBLIC_KEYS",
    help: "PEM public keys (text, or comma-separated paths) of retired ES256/RS256 keys, still accepted and published",
  },
  "reauth-window": {
    type: "string",
    help: "seconds after sign-in during which a password change needs no current password (default 300; 0 = always needed)",
  },
  help: { type: "boolean", help: "print this help" },
} satisfies Record<string, FlagSpec>;

/** The text printed by `--help`. */
export function helpText(): string {
  const lines = Object.entries(flags).map(([name, spec]: [string, FlagSpec]) => {
    const flag = spec.type === "string" ? `--${name} <value>` : `--${name}`;
    const env = spec.env ? ` [env ${spec.env}]` : "";
    return `  ${flag.padEnd(34)}${spec.help}${env}`;
  });
  return [
    "Usage: heliosdb-nano [flags]",
    "       heliosdb-nano admin <command> [flags]   (see `heliosdb-nano admin --help`)",
    "       heliosdb-nano gen types --typescript    (see `heliosdb-nano gen types --help`)",
    "",
    "Flags:",
    ...lines,
  ].join("\n");
}

function integer(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`--${name} must be a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(`--${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

function seconds(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(value)) throw new ConfigError(`--${name} must be a number of seconds, got "${raw}"`);
  if (value < min || value > max) throw new ConfigError(`--${name} must be between ${min} and ${max} seconds, got ${value}`);
  return value;
}

function nonEmpty(name: string, raw: string | undefined, fallback: string): string {
  if (raw === undefined) return fallback;
  if (raw.trim() === "") throw new ConfigError(`--${name} must not be empty`);
  return raw.trim();
}

function corsOrigins(raw: string | undefined): "*" | string[] {
  if (raw === undefined || raw.trim() === "*") return "*";
  const origins = raw.split(",").map((origin) => origin.trim()).filter((origin) => origin !== "");
  if (origins.length === 0) throw new ConfigError("--cors-origins must list at least one origin, or be *");
  for (const origin of origins) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    if (!parsed || parsed.origin === "null" || parsed.origin !== origin) {
      throw new ConfigError(`--cors-origins entries must be origins like https://app.example.com (no path), got "${origin}"`);
    }
  }
  return origins;
}

function jwtAlgorithm(raw: string | undefined): AuthConfig["jwtAlgorithm"] {
  const value = raw?.trim() ?? "HS256";
  if (value !== "HS256" && value !== "ES256" && value !== "RS256") {
    throw new ConfigError(`--jwt-algorithm must be HS256, ES256 or RS256, got "${value}"`);
  }
  return value;
}

/** The minimum length of an HS256 secret, in bytes (RFC 7518 §3.2). */
export const minSecretBytes = 32;

function secret(name: string, raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  if (Buffer.byteLength(raw) < minSecretBytes) {
    throw new ConfigError(`--${name} must be at least ${minSecretBytes} bytes`);
  }
  return raw;
}

/** Parsed command line: either a request for help or the flag values. */
export type ParsedArgs = { help: true } | { help: false; values: Record<string, string | boolean | undefined> };

/** Parses argv (without node and script) strictly; unknown flags raise a {@link ConfigError}. */
export function parseFlags(argv: string[], env: NodeJS.ProcessEnv): ParsedArgs {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: flags, strict: true, allowPositionals: false });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new ConfigError(message.replace(/\s*\n\s*/g, " "));
  }
  if (parsed.values.help) return { help: true };
  const values: Record<string, string | boolean | undefined> = { ...parsed.values };
  for (const [name, spec] of Object.entries(flags) as [string, FlagSpec][]) {
    if (values[name] === undefined && spec.env && env[spec.env] !== undefined) values[name] = env[spec.env];
  }
  return { help: false, values };
}

/** Builds a validated {@link Config} from argv and the environment. */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = parseFlags(argv, env);
  if (parsed.help) throw new ConfigError("--help is not a configuration");
  return configFromValues(parsed.values);
}

/** Validates flag values (as parsed by {@link parseFlags}) into a {@link Config}. */
export function configFromValues(values: Record<string, string | boolean | undefined>): Config {
  const str = (name: keyof typeof flags) => {
    const value = values[name];
    return typeof value === "string" ? value : undefined;
  };
  const mode = str("mode") ?? "server";
  if (mode !== "server") throw new ConfigError(`--mode must be "server", got "${mode}"`);
  const logLevel = str("log-level") ?? "info";
  if (!(logLevels as readonly string[]).includes(logLevel)) {
    throw new ConfigError(`--log-level must be one of ${logLevels.join(", ")}, got "${logLevel}"`);
  }
  const logFormat = str("log-format");
  if (logFormat !== undefined && !(logFormats as readonly string[]).includes(logFormat)) {
    throw new ConfigError(`--log-format must be one of ${logFormats.join(", ")}, got "${logFormat}"`);
  }
  const certFile = str("tls-cert");
  const keyFile = str("tls-key");
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new ConfigError("--tls-cert and --tls-key must be given together");
  }
  const databaseUrl = str("database-url");
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError("--database-url must start with postgres:// or postgresql://");
  }
  const directDatabaseUrl = str("direct-database-url");
  if (directDatabaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(directDatabaseUrl)) {
    throw new ConfigError("--direct-database-url must start with postgres:// or postgresql://");
  }
  if (directDatabaseUrl !== undefined && databaseUrl === undefined) {
    throw new ConfigError("--direct-database-url needs --database-url (the pooler it bypasses)");
  }
  const pooler = str("pooler") ?? "auto";
  if (!(poolerModes as readonly string[]).includes(pooler)) {
    throw new ConfigError(`--pooler must be one of ${poolerModes.join(", ")}, got "${pooler}"`);
  }
  const previous = (str("jwt-previous-secrets") ?? "")
    .split(",")
    .filter((s) => s !== "")
    .map((s) => secret("jwt-previous-secrets", s) as string);

  return {
    mode,
    host: nonEmpty("host", str("host"), "0.0.0.0"),
    port: integer("port", str("port"), 6543, 0, 65535),
    dataDir: resolve(nonEmpty("data-dir", str("data-dir"), "helios-data")),
    databaseUrl,
    directDatabaseUrl,
    pooler: pooler as PoolerMode,
    tls: certFile && keyFile ? { certFile, keyFile } : undefined,
    logLevel: logLevel as LogLevel,
    logFormat: logFormat as LogFormat | undefined,
    maxBodyBytes: integer("max-body-bytes", str("max-body-bytes"), 1024 * 1024, 1024, 64 * 1024 * 1024),
    shutdownTimeoutMs: seconds("shutdown-timeout", str("shutdown-timeout"), 10, 0, 3600) * 1000,
    cors: { origins: corsOrigins(str("cors-origins")) },
    auth: {
      jwtSecret: secret("jwt-secret", str("jwt-secret")),
      jwtPreviousSecrets: previous,
      issuer: nonEmpty("jwt-issuer", str("jwt-issuer"), "heliosdb-nano"),
      audience: nonEmpty("jwt-audience", str("jwt-audience"), "authenticated"),
      clockSkewSeconds: integer("jwt-clock-skew", str("jwt-clock-skew"), 5, 0, 300),
      tokenExpirySeconds: integer("token-expiry", str("token-expiry"), 3600, 1, 7 * 24 * 3600),
      refreshTokenExpirySeconds: integer("refresh-token-expiry", str("refresh-token-expiry"), 7 * 24 * 3600, 1, 366 * 24 * 3600),
      refreshGraceSeconds: integer("refresh-grace", str("refresh-grace"), 10, 0, 3600),
      defaultTenant: nonEmpty("default-tenant", str("default-tenant"), "default"),
      disableSignup: values["disable-signup"] === true,
      rateLimit: {
        windowSeconds: integer("rate-limit-window", str("rate-limit-window"), 60, 1, 24 * 3600),
        signUp: integer("signup-rate-limit", str("signup-rate-limit"), 30, 0, 1_000_000),
        signIn: integer("signin-rate-limit", str("signin-rate-limit"), 30, 0, 1_000_000),
        refresh: integer("refresh-rate-limit", str("refresh-rate-limit"), 150, 0, 1_000_000),
      },
      hashQueue: {
        queueLength: integer("hash-queue-length", str("hash-queue-length"), 100, 0, 100_000),
        queueTimeoutMs: seconds("hash-queue-timeout", str("hash-queue-timeout"), 10, 0.01, 3600) * 1000,
      },
      jwtAlgorithm: jwtAlgorithm(str("jwt-algorithm")),
      jwtPrivateKey: str("jwt-private-key"),
      jwtPreviousPublicKeys: str("jwt-previous-public-keys"),
      reauthWindowSeconds: integer("reauth-window", str("reauth-window"), 300, 0, 24 * 3600),
    },
    query: {
      statementTimeoutMs: seconds("statement-timeout", str("statement-timeout"), 5, 0.01, 3600) * 1000,
      rowCap: integer("row-cap", str("row-cap"), 10_000, 1, 1_000_000),
      maxSqlBytes: integer("max-sql-bytes", str("max-sql-bytes"), 64 * 1024, 16, 16 * 1024 * 1024),
      maxConcurrentPerTenant: integer("max-concurrent-queries", str("max-concurrent-queries"), 10, 1, 1000),
      queueLength: integer("query-queue-length", str("query-queue-length"), 200, 0, 100_000),
      queueTimeoutMs: seconds("query-queue-timeout", str("query-queue-timeout"), 10, 0.01, 3600) * 1000,
      maxResultBytes: integer("max-result-bytes", str("max-result-bytes"), 64 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
      strictTenancy: values["strict-tenancy"] === true,
    },
    schema: {
      maxSamples: integer("schema-max-samples", str("schema-max-samples"), 10_000, 1, 1_000_000),
      maxSampleBytes: integer("schema-max-sample-bytes", str("schema-max-sample-bytes"), 1024 * 1024, 1024, 256 * 1024 * 1024),
    },
    rest: {
      maxQueryBytes: integer("rest-max-query-bytes", str("rest-max-query-bytes"), 8192, 256, 1024 * 1024),
      maxInList: integer("rest-max-in-list", str("rest-max-in-list"), 1000, 1, 100_000),
      maxDepth: integer("rest-max-depth", str("rest-max-depth"), 8, 1, 64),
    },
    connections: connectionLimits(str),
  };
}

function connectionLimits(str: (name: keyof typeof flags) => string | undefined): ConnectionLimits {
  const ms = (name: keyof typeof flags, fallback: number) => Math.round(seconds(name, str(name), fallback, 0.05, 3600) * 1000);
  const headersTimeoutMs = ms("headers-timeout", 10);
  const requestTimeoutMs = ms("request-timeout", 30);
  if (requestTimeoutMs < headersTimeoutMs) throw new ConfigError("--request-timeout must not be shorter than --headers-timeout");
  return {
    headersTimeoutMs,
    requestTimeoutMs,
    idleTimeoutMs: ms("idle-timeout", 30),
    maxConnections: integer("max-connections", str("max-connections"), 10_000, 1, 1_000_000),
  };
}
