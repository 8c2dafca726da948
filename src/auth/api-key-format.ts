import { createHash, randomBytes, randomInt, timingSafeEqual } from "node:crypto";

/** What every key starts with, so people and secret scanners recognise it. */
export const apiKeyPrefix = "hdb_";

/** Characters of a key's public id. */
const idAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";

/** Length of a key's public id. */
export const apiKeyIdLength = 8;

/** Random bytes in a key's secret: 256 bits, 43 characters of base64url. */
const secretBytes = 32;

const keyPattern = /^hdb_([a-z0-9]{8})_([A-Za-z0-9_-]{43})$/;
const idPattern = /^[a-z0-9]{8}$/;

/** A key just generated: the whole key (shown once) and what is stored of it. */
export interface GeneratedApiKey {
  /** Public id, also the primary key. */
  id: string;
  /** `hdb_<id>_<secret>`: never stored, never logged. */
  key: string;
  /** {@link hashApiKey} of `key`, the only form kept. */
  hash: Buffer;
}

/** Generates a random key: an 8-character id and a 256-bit secret. */
export function generateApiKey(): GeneratedApiKey {
  let id = "";
  for (let i = 0; i < apiKeyIdLength; i++) id += idAlphabet[randomInt(idAlphabet.length)];
  const key = `${apiKeyPrefix}${id}_${randomBytes(secretBytes).toString("base64url")}`;
  return { id, key, hash: hashApiKey(key) };
}

/**
 * The stored form of a key: SHA-256 of the whole key. A fast unsalted hash suffices because the
 * secret has 256 bits of entropy.
 */
export function hashApiKey(key: string): Buffer {
  return createHash("sha256").update(key, "utf8").digest();
}

/** The public id of a well-formed key, or undefined: junk never reaches storage. */
export function apiKeyIdOf(key: string): string | undefined {
  return keyPattern.exec(key)?.[1];
}

/** Whether `value` looks like an API key rather than a JWT (e.g. in `Authorization: Bearer`). */
export function looksLikeApiKey(value: string): boolean {
  return value.startsWith(apiKeyPrefix);
}

/** The `hdb_<id>` prefix shown in lists. */
export function apiKeyDisplayPrefix(id: string): string {
  return `${apiKeyPrefix}${id}`;
}

/** The id named by `value`: a bare id or a `hdb_<id>` prefix; undefined when it is neither. */
export function parseApiKeyId(value: string): string | undefined {
  const id = value.startsWith(apiKeyPrefix) ? value.slice(apiKeyPrefix.length) : value;
  return idPattern.test(id) ? id : undefined;
}

/** Whether `key` hashes to `storedHash`, compared in constant time. */
export function apiKeyMatches(key: string, storedHash: Uint8Array): boolean {
  const hash = hashApiKey(key);
  return hash.byteLength === storedHash.byteLength && timingSafeEqual(hash, storedHash);
}
