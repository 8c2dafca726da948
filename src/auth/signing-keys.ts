import { createHash, type JsonWebKey, type KeyObject } from "node:crypto";
import { ConfigError } from "../config/config.js";

/** Algorithms access tokens may be signed with: HS256 (the default, a shared secret) or a key pair. */
export const jwtAlgorithms = ["HS256", "ES256", "RS256"] as const;

/** One of {@link jwtAlgorithms}. */
export type JwtAlgorithm = (typeof jwtAlgorithms)[number];

/** The asymmetric ones, whose public keys are published as a JWKS. */
export type AsymmetricAlgorithm = Exclude<JwtAlgorithm, "HS256">;

/** A public key of a signing key pair, as published in the JWKS (RFC 7517). */
export interface PublicJwk {
  kty: "EC" | "RSA";
  kid: string;
  alg: AsymmetricAlgorithm;
  use: "sig";
  crv?: string;
  x?: string;
  y?: string;
  n?: string;
  e?: string;
}

/** A key pair that signed, or signs, access tokens. */
export interface AsymmetricKey {
  alg: AsymmetricAlgorithm;
  publicKey: KeyObject;
  /**
   * When it stopped signing. Its tokens then verify until this time plus the token lifetime (and
   * the clock skew), after which the key is gone from verification and from the JWKS. Unset for
   * previous keys given by configuration, which verify for as long as they are configured.
   */
  retiredAt?: Date;
}

/** The key pairs of asymmetric signing: the one that signs, and retired ones that still verify. */
export interface AsymmetricKeyRing {
  current: AsymmetricKey & { privateKey: KeyObject };
  previous: AsymmetricKey[];
}

/** Smallest RSA modulus accepted for RS256, in bits. */
export const minRsaModulusBits = 2048;

/** Throws a {@link ConfigError} unless `key` (public or private) suits `alg`: P-256 for ES256, RSA of 2048 bits or more for RS256. */
export function assertKeyFits(key: KeyObject, alg: AsymmetricAlgorithm, what: string): void {
  const details = key.asymmetricKeyDetails;
  if (alg === "ES256") {
    if (key.asymmetricKeyType !== "ec" || details?.namedCurve !== "prime256v1") {
      throw new ConfigError(`${what} must be an EC P-256 key for ES256`);
    }
    return;
  }
  if (key.asymmetricKeyType !== "rsa" || (details?.modulusLength ?? 0) < minRsaModulusBits) {
    throw new ConfigError(`${what} must be an RSA key of at least ${minRsaModulusBits} bits for RS256`);
  }
}

/** The algorithm a public key signs with: ES256 for P-256, RS256 for RSA; a {@link ConfigError} otherwise. */
export function algorithmOfKey(key: KeyObject, what: string): AsymmetricAlgorithm {
  const alg: AsymmetricAlgorithm = key.asymmetricKeyType === "rsa" ? "RS256" : "ES256";
  assertKeyFits(key, alg, what);
  return alg;
}

/**
 * The public JWK of `key` with its `kid`: the RFC 7638 thumbprint (SHA-256 of the key's required
 * members), so every instance given the same key names it alike, and a verifier can recompute it.
 */
export function publicJwkOf(key: KeyObject, alg: AsymmetricAlgorithm): PublicJwk {
  const jwk: JsonWebKey = key.export({ format: "jwk" });
  const thumbprint = (members: Record<string, string>) => createHash("sha256").update(JSON.stringify(members)).digest("base64url");
  if (alg === "ES256") {
    // Members in lexicographic order, as RFC 7638 requires.
    const members = { crv: String(jwk.crv), kty: "EC", x: String(jwk.x), y: String(jwk.y) };
    return { kty: "EC", kid: thumbprint(members), alg, use: "sig", crv: members.crv, x: members.x, y: members.y };
  }
  const members = { e: String(jwk.e), kty: "RSA", n: String(jwk.n) };
  return { kty: "RSA", kid: thumbprint(members), alg, use: "sig", n: members.n, e: members.e };
}
