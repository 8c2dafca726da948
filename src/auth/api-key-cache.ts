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
export interface ApiKeyCacheOptions {
  /** How long a live state is trusted, in milliseconds; default 1000. 0 disables caching of live states. */
  ttlMs?: number;
  /** Most keys held; default 10 000. */
  maxEntries?: number;
  /** Clock in milliseconds; default `Date.now`. */
  now?: () => number;
}

interface Entry {
  state: CachedApiKey | undefined;
  /** `Infinity` for revoked keys. */
  expiresAt: number;
}

/** Creates an {@link ApiKeyCache}. */
export function createApiKeyCache(options: ApiKeyCacheOptions = {}): ApiKeyCache {
  const ttlMs = options.ttlMs ?? 1000;
  const maxEntries = options.maxEntries ?? 10_000;
  const now = options.now ?? Date.now;
  if (!(ttlMs >= 0)) throw new RangeError("ttlMs must be non-negative");
  if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError("maxEntries must be a positive integer");

  const entries = new Map<string, Entry>();
  const loading = new Map<string, Promise<CachedApiKey | undefined>>();

  function store(id: string, entry: Entry): void {
    entries.delete(id);
    entries.set(id, entry);
    if (entries.size > maxEntries) {
      const oldest = entries.keys().next();
      if (!oldest.done) entries.delete(oldest.value);
    }
  }

  return {
    get size() {
      return entries.size;
    },

    get(id, load) {
      const entry = entries.get(id);
      if (entry && entry.expiresAt > now()) return Promise.resolve(entry.state);
      const pending = loading.get(id);
      if (pending) return pending;

      const read = load().then(
        (state) => {
          // A revocation recorded while the read was in flight wins over what the read saw.
          if (loading.get(id) === read) {
            loading.delete(id);
            store(id, { state, expiresAt: state?.revoked ? Infinity : now() + ttlMs });
          }
          return state;
        },
        (error: unknown) => {
          if (loading.get(id) === read) loading.delete(id);
          throw error;
        },
      );
      loading.set(id, read);
      return read;
    },

    revoke(id) {
      loading.delete(id);
      const previous = entries.get(id)?.state;
      if (previous) store(id, { state: { ...previous, revoked: true }, expiresAt: Infinity });
      else entries.delete(id);
    },

    forget(id) {
      loading.delete(id);
      entries.delete(id);
    },

    clear() {
      loading.clear();
      entries.clear();
    },
  };
}
