import { createStateCache, type StateCacheOptions } from "../util/state-cache.js";
import type { ApiKeyLookup } from "./api-key-store.js";

/** A key's state as the verifier keeps it: expiry turned into a deadline on the local clock. */
export interface CachedApiKey extends Omit<ApiKeyLookup, "expiresInMs"> {
  /** Local time in milliseconds at which the key expires, or null when it never does. */
  expiresAt: number | null;
}

/**
 * Remembers key states for the API-key check, so that a busy key costs one database read per `ttl`
 * rather than one per request.
 *
 * Bounds: a live state (or the absence of a key) is trusted for at most `ttlMs`, the longest a
 * revocation made by another instance goes unnoticed here; a revoked key never comes back, so that
 * answer is kept until evicted; expiry needs no reload, as it is a deadline; at most `maxEntries`
 * keys are held (least recently stored evicted first). Concurrent misses of one key share one read.
 */
export interface ApiKeyCache {
  /** The state of key `id`, from the cache or else from `load`. */
  get(id: string, load: () => Promise<CachedApiKey | undefined>): Promise<CachedApiKey | undefined>;
  /** Marks key `id` revoked here and now (after this process revoked it). */
  revoke(id: string): void;
  /** Drops what is held about key `id` (it changed elsewhere): its next use reads storage. */
  forget(id: string): void;
  /** Drops everything held. */
  clear(): void;
  /** Keys currently held. */
  readonly size: number;
}

/** Options of {@link createApiKeyCache}. */
export type ApiKeyCacheOptions = StateCacheOptions;

/** Creates an {@link ApiKeyCache}: a revoked key never comes back, so it is final. */
export function createApiKeyCache(options: ApiKeyCacheOptions = {}): ApiKeyCache {
  const cache = createStateCache<CachedApiKey>((state) => state?.revoked === true, options);
  return {
    get size() {
      return cache.size;
    },
    get: (id, load) => cache.get(id, load),
    revoke(id) {
      const previous = cache.peek(id);
      if (previous) cache.settle(id, { ...previous, revoked: true });
      else cache.forget(id);
    },
    forget: (id) => cache.forget(id),
    clear: () => cache.clear(),
  };
}
