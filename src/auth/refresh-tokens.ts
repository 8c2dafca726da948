import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** Random bytes in a refresh token: 256 bits. */
export const refreshTokenBytes = 32;

/** Length of a refresh token: base64url of {@link refreshTokenBytes} bytes, without padding. */
export const refreshTokenLength = Math.ceil((refreshTokenBytes * 4) / 3);

/** A new refresh token: the string handed to the client once, and the hash that is stored. */
export interface NewRefreshToken {
  /** Opaque base64url token; never stored, never logged. */
  token: string;
  /** SHA-256 of the token, the only form kept in storage. */
  hash: Buffer;
}

const tokenPattern = /^[A-Za-z0-9_-]+$/;

/** Creates a random refresh token and its storage hash. */
export function newRefreshToken(): NewRefreshToken {
  const token = randomBytes(refreshTokenBytes).toString("base64url");
  return { token, hash: hashRefreshToken(token) };
}

/**
 * The token that rotating `parent` yields: an HMAC-SHA256 of the parent under `secret`, in the same
 * shape as {@link newRefreshToken}. Rotation is deterministic so that a replay of the parent within
 * the grace window can hand back the very same child without the child ever being stored: only
 * whoever holds both the parent token (never stored) and the server secret can compute it.
 */
export function childRefreshToken(parent: string, secret: string): NewRefreshToken {
  const token = createHmac("sha256", secret).update("heliosdb-nano/refresh-child/v1\0").update(parent, "utf8").digest("base64url");
  return { token, hash: hashRefreshToken(token) };
}

/**
 * The storage hash of a refresh token: SHA-256 of its text. A plain (unsalted, fast) hash suffices
 * because the token has 256 bits of entropy; it also lets storage look the token up by an index.
 */
export function hashRefreshToken(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

/**
 * Whether `token` has the shape of a token from {@link newRefreshToken}. Checked before any lookup so
 * junk (or a huge string) costs nothing; shape alone proves nothing.
 */
export function isWellFormedRefreshToken(token: unknown): token is string {
  return typeof token === "string" && token.length === refreshTokenLength && tokenPattern.test(token);
}

/** Compares two refresh-token hashes in constant time; `false` when their lengths differ. */
export function refreshTokenHashesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && timingSafeEqual(a, b);
}
