import { createHash, randomUUID, webcrypto, type KeyObject } from "node:crypto";
import type { JsonObject } from "@bufbuild/protobuf";
import { ConnectError } from "@connectrpc/connect";
import { SignJWT, errors, jwtVerify, type JWTPayload, type JWSHeaderParameters } from "jose";
import { ConfigError, minSecretBytes, type AuthConfig } from "../config/config.js";
import { apiError } from "../errors/catalogue.js";
import { allScopes, type Principal, type Scope } from "./principal.js";
import { assertKeyFits, publicJwkOf, type AsymmetricKeyRing, type JwtAlgorithm, type PublicJwk } from "./signing-keys.js";

/** The claims of every access token we issue. Times are seconds since the epoch. */
export interface AccessTokenClaims {
  /** User id. */
  sub: string;
  email: string;
  role: "authenticated";
  tenant_id: string;
  scopes: Scope[];
  session_id: string;
  iat: number;
  exp: number;
  iss: string;
  aud: string;
  /** Unique id of this token. */
  jti: string;
  /** The user's own metadata, as GoTrue carries it. */
  user_metadata: JsonObject;
  /** Administrators' metadata about the user. */
  app_metadata: JsonObject;
}

/** Who a token is for; the issuer adds role, times, issuer, audience and jti. */
export interface AccessTokenSubject {
  userId: string;
  email: string;
  tenantId: string;
  scopes: readonly Scope[];
  sessionId: string;
  userMetadata: JsonObject;
  appMetadata: JsonObject;
}

/** A freshly signed access token. */
export interface SignedAccessToken {
  /** The compact JWT. */
  token: string;
  claims: AccessTokenClaims;
  /** Lifetime in seconds (`exp - iat`), the `expires_in` of a session response. */
  expiresIn: number;
}

/**
 * Signs and verifies access tokens: HS256 with a secret (older secrets still verify), or ES256/RS256
 * with a key pair (retired pairs still verify until their tokens expire, and their public keys are
 * published as a JWKS). Only the configured kind of key verifies: under ES256 an HS256 token is
 * refused whatever it was signed with.
 */
export interface TokenIssuer {
  /** Algorithm of the tokens it signs. */
  readonly algorithm: JwtAlgorithm;
  /** `kid` of the signing key. */
  readonly kid: string;
  /** `kid`s accepted by {@link TokenIssuer.verify}: the signing one first, then the previous ones. */
  readonly verificationKids: readonly string[];
  /** Signs an access token for `subject`, valid for the configured token expiry. */
  sign(subject: AccessTokenSubject): Promise<SignedAccessToken>;
  /**
   * Verifies `token` and returns its claims. Throws `token_expired` when it is past `exp` (and
   * otherwise valid), `invalid_token` for anything else; errors carry the catalogue's text only.
   */
  verify(token: string): Promise<AccessTokenClaims>;
  /**
   * {@link TokenIssuer.verify}, and until when (ms) its answer holds: the token's `exp`, or sooner
   * the moment its retired key stops verifying. What a cache of verified tokens may honour.
   */
  verifyUntil(token: string): Promise<{ claims: AccessTokenClaims; trustedUntil: number }>;
  /** The public keys that verify its tokens now (none under HS256), for the JWKS. */
  publicKeys(): PublicJwk[];
}

/** The part of {@link AuthConfig} a {@link TokenIssuer} reads, and the key pairs of asymmetric signing. */
export type TokenIssuerConfig = Pick<
  AuthConfig,
  "jwtSecret" | "jwtPreviousSecrets" | "issuer" | "audience" | "tokenExpirySeconds"
> & {
  /** Default HS256. */
  jwtAlgorithm?: JwtAlgorithm;
  /** Required for ES256 and RS256, whose algorithm its current key must have. */
  keyRing?: AsymmetricKeyRing;
};

/** Options of {@link createTokenIssuer}. */
export interface TokenIssuerOptions {
  /** Clock in milliseconds since the epoch; default `Date.now`. */
  now?: () => number;
  /** Tolerated clock difference for `exp`, `nbf` and `iat`, in seconds; default {@link defaultClockSkewSeconds}. */
  clockSkewSeconds?: number;
}

/** Default tolerance for clocks of instances that disagree slightly. */
export const defaultClockSkewSeconds = 5;

/** Longer bearer strings are refused before any parsing. Our tokens are well under 1 KiB. */
export const maxAccessTokenLength = 8192;

/**
 * Header parameters that make a verifier fetch or trust keys named by the token itself, or demand
 * extensions we do not implement; a token carrying any of them is refused.
 */
export const forbiddenHeaderParameters: readonly string[] = ["jku", "x5u", "jwk", "x5c", "crit"];

const requiredClaims = ["exp", "iat", "sub", "jti", "session_id"];

/**
 * The `kid` of an HS256 secret: the first 16 hex digits of a SHA-256 of the secret under a fixed
 * label. Stable across restarts and instances, and reveals nothing an HS256 signature does not.
 */
export function keyIdOf(secret: string): string {
  return createHash("sha256").update("heliosdb-nano/jwt-kid/v1\0").update(secret, "utf8").digest("hex").slice(0, 16);
}

function checkSecret(secret: string | undefined, what: string): string {
  if (secret === undefined) throw new ConfigError(`${what} is not set`);
  if (Buffer.byteLength(secret, "utf8") < minSecretBytes) {
    throw new ConfigError(`${what} must be at least ${minSecretBytes} bytes`);
  }
  return secret;
}

function importHmacKey(secret: string, usages: Array<"sign" | "verify">): Promise<webcrypto.CryptoKey> {
  return webcrypto.subtle.importKey("raw", Buffer.from(secret, "utf8"), { name: "HMAC", hash: "SHA-256" }, false, usages);
}

// Keeps the failure for logs without the payload jose attaches to claim errors.
function invalidToken(detail: string): ConnectError {
  return apiError("invalid_token", undefined, { cause: new Error(detail) });
}

function toApiError(error: unknown): ConnectError {
  if (error instanceof ConnectError) return error;
  if (error instanceof errors.JWTExpired) {
    return apiError("token_expired", undefined, { cause: new Error(`${error.code}: ${error.message}`) });
  }
  if (error instanceof errors.JOSEError) return invalidToken(`${error.code}: ${error.message}`);
  return invalidToken(error instanceof Error ? `${error.name}: ${error.message}` : "verification failed");
}

const isNonEmptyString = (value: unknown): value is string => typeof value === "string" && value !== "";
const isObject = (value: unknown): value is JsonObject => typeof value === "object" && value !== null && !Array.isArray(value);
// Tokens signed before metadata existed carry none.
const metadataClaim = (value: unknown): JsonObject | undefined => (value === undefined ? {} : isObject(value) ? value : undefined);
const isScope = (value: unknown): value is Scope => (allScopes as readonly unknown[]).includes(value);

function readClaims(payload: JWTPayload, nowSeconds: number, skew: number): AccessTokenClaims {
  const { sub, email, role, tenant_id, scopes, session_id, iat, exp, iss, aud, jti } = payload;
  const user_metadata = metadataClaim(payload.user_metadata);
  const app_metadata = metadataClaim(payload.app_metadata);
  if (typeof iat !== "number" || typeof exp !== "number") throw invalidToken("iat/exp must be numbers");
  // jose checks iat only together with maxTokenAge; a token from the future is refused here.
  if (iat > nowSeconds + skew) throw invalidToken("iat is in the future");
  if (exp <= iat) throw invalidToken("exp is not after iat");
  if (
    !isNonEmptyString(sub) ||
    !isNonEmptyString(jti) ||
    !isNonEmptyString(session_id) ||
    !isNonEmptyString(tenant_id) ||
    typeof email !== "string" ||
    role !== "authenticated" ||
    !isNonEmptyString(iss) ||
    !isNonEmptyString(aud) ||
    !Array.isArray(scopes) ||
    !scopes.every(isScope) ||
    !user_metadata ||
    !app_metadata
  ) {
    throw invalidToken("claims have unexpected types or values");
  }
  return { sub, email, role, tenant_id, scopes: [...scopes], session_id, iat, exp, iss, aud, jti, user_metadata, app_metadata };
}

/**
 * Creates the {@link TokenIssuer} of `config`. Throws a {@link ConfigError} when the signing secret is
 * missing or any secret is shorter than 32 bytes.
 */
export function createTokenIssuer(config: TokenIssuerConfig, options: TokenIssuerOptions = {}): TokenIssuer {
  const now = options.now ?? Date.now;
  const skew = options.clockSkewSeconds ?? defaultClockSkewSeconds;
  if (!Number.isFinite(skew) || skew < 0) throw new RangeError("clockSkewSeconds must be a non-negative number");
  const expiresIn = config.tokenExpirySeconds;
  if (!Number.isInteger(expiresIn) || expiresIn < 1) throw new ConfigError("token expiry must be a positive whole number");

  const keys = verificationKeysOf(config, expiresIn, skew);
  const { signing } = keys;
  const algorithms = [...new Set([...keys.verification.values()].map((entry) => entry.alg))];

  const resolveKey = (header: JWSHeaderParameters): Promise<webcrypto.CryptoKey> | KeyObject => {
    const present = forbiddenHeaderParameters.filter((name) => Object.hasOwn(header, name));
    if (present.length > 0) throw invalidToken(`forbidden header parameter ${present.join(", ")}`);
    const entry = typeof header.kid === "string" ? keys.verification.get(header.kid) : undefined;
    if (!entry) throw invalidToken("unknown or missing kid");
    // The kid names the algorithm too: an HS256 token naming an ES256 key (signed with its public key) fails here.
    if (header.alg !== entry.alg) throw invalidToken(`alg ${String(header.alg)} does not match the key's ${entry.alg}`);
    if (now() >= entry.usableUntil) throw invalidToken("the key was retired and its tokens have expired");
    return entry.key;
  };

  async function verifyUntil(token: string): Promise<{ claims: AccessTokenClaims; trustedUntil: number }> {
    if (typeof token !== "string" || token === "" || token.length > maxAccessTokenLength) {
      throw invalidToken("empty or oversized token");
    }
    const current = now();
    let payload: JWTPayload;
    let kid: unknown;
    try {
      ({ payload, protectedHeader: { kid } } = await jwtVerify(token, resolveKey, {
        algorithms,
        typ: "JWT",
        issuer: config.issuer,
        audience: config.audience,
        requiredClaims,
        clockTolerance: skew,
        currentDate: new Date(current),
      }));
    } catch (error) {
      throw toApiError(error);
    }
    const claims = readClaims(payload, Math.floor(current / 1000), skew);
    const keyUntil = keys.verification.get(kid as string)?.usableUntil ?? current;
    return { claims, trustedUntil: Math.min(claims.exp * 1000, keyUntil) };
  }

  return {
    algorithm: signing.alg,
    kid: signing.kid,
    verificationKids: [...keys.verification.keys()],

    async sign(subject) {
      if (![subject.userId, subject.tenantId, subject.sessionId].every(isNonEmptyString)) {
        throw new TypeError("userId, tenantId and sessionId must be non-empty strings");
      }
      if (!subject.scopes.every(isScope)) throw new TypeError("unknown scope");
      const iat = Math.floor(now() / 1000);
      const claims: AccessTokenClaims = {
        sub: subject.userId,
        email: subject.email,
        role: "authenticated",
        tenant_id: subject.tenantId,
        scopes: [...subject.scopes],
        session_id: subject.sessionId,
        iat,
        exp: iat + expiresIn,
        iss: config.issuer,
        aud: config.audience,
        jti: randomUUID(),
        user_metadata: subject.userMetadata,
        app_metadata: subject.appMetadata,
      };
      const token = await new SignJWT({ ...claims })
        .setProtectedHeader({ alg: signing.alg, typ: "JWT", kid: signing.kid })
        .sign(await signing.key);
      return { token, claims, expiresIn };
    },

    verifyUntil,

    async verify(token) {
      return (await verifyUntil(token)).claims;
    },

    publicKeys() {
      const at = now();
      return keys.published.filter((entry) => at < entry.usableUntil).map((entry) => entry.jwk);
    },
  };
}

/** A key that verifies tokens naming its kid, signed with its algorithm, until `usableUntil` (ms). */
interface VerificationKey {
  alg: JwtAlgorithm;
  key: Promise<webcrypto.CryptoKey> | KeyObject;
  usableUntil: number;
}

/** The keys of a {@link TokenIssuer}: the signing one, those that verify, and the public ones. */
interface IssuerKeys {
  signing: { kid: string; alg: JwtAlgorithm; key: Promise<webcrypto.CryptoKey> | KeyObject };
  verification: Map<string, VerificationKey>;
  published: Array<{ jwk: PublicJwk; usableUntil: number }>;
}

function verificationKeysOf(config: TokenIssuerConfig, expiresIn: number, skew: number): IssuerKeys {
  const algorithm = config.jwtAlgorithm ?? "HS256";
  if (algorithm === "HS256") {
    const signingSecret = checkSecret(config.jwtSecret, "JWT secret");
    const kid = keyIdOf(signingSecret);
    const key = importHmacKey(signingSecret, ["sign", "verify"]);
    const verification = new Map<string, VerificationKey>([[kid, { alg: algorithm, key, usableUntil: Infinity }]]);
    for (const previous of config.jwtPreviousSecrets) {
      const secret = checkSecret(previous, "previous JWT secret");
      const previousKid = keyIdOf(secret);
      if (!verification.has(previousKid)) {
        verification.set(previousKid, { alg: algorithm, key: importHmacKey(secret, ["verify"]), usableUntil: Infinity });
      }
    }
    // An unawaited rejection would crash the process before the first sign or verify awaits it.
    for (const entry of verification.values()) if (entry.key instanceof Promise) entry.key.catch(() => undefined);
    return { signing: { kid, alg: algorithm, key }, verification, published: [] };
  }
  const ring = config.keyRing;
  if (!ring) throw new ConfigError(`${algorithm} needs a signing key pair`);
  if (ring.current.alg !== algorithm) throw new ConfigError(`the signing key is for ${ring.current.alg}, not ${algorithm}`);
  assertKeyFits(ring.current.privateKey, algorithm, "the signing key");
  const current = publicJwkOf(ring.current.publicKey, algorithm);
  const verification = new Map<string, VerificationKey>([[current.kid, { alg: algorithm, key: ring.current.publicKey, usableUntil: Infinity }]]);
  const published = [{ jwk: current, usableUntil: Infinity }];
  for (const previous of ring.previous) {
    assertKeyFits(previous.publicKey, previous.alg, "a previous public key");
    const jwk = publicJwkOf(previous.publicKey, previous.alg);
    if (verification.has(jwk.kid)) continue;
    // Its last token expires a token lifetime after it stopped signing; then it verifies nothing.
    const usableUntil = previous.retiredAt ? previous.retiredAt.getTime() + (expiresIn + skew) * 1000 : Infinity;
    verification.set(jwk.kid, { alg: previous.alg, key: previous.publicKey, usableUntil });
    published.push({ jwk, usableUntil });
  }
  return { signing: { kid: current.kid, alg: algorithm, key: ring.current.privateKey }, verification, published };
}

/** The {@link Principal} a verified access token stands for. */
export function principalFromClaims(claims: AccessTokenClaims): Principal {
  return {
    kind: "user",
    id: claims.sub,
    email: claims.email,
    role: claims.role,
    tenantId: claims.tenant_id,
    scopes: claims.scopes,
    sessionId: claims.session_id,
  };
}
