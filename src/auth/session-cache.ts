import type { SessionState } from "./session-store.js";

/**
 * Remembers session states for the bearer check, so that a busy session costs one database read per
 * `ttl` rather than one per request.
 *
 * Bounds: a live state is trusted for at most `ttlMs`, the longest a logout, ban or scope change
 * made elsewhere goes unnoticed here should the invalidation bus miss it (normally the bus drops the
 * entry within milliseconds: {@link SessionCache.forget}, {@link SessionCache.forgetUser}); a revoked
 * or missing session never comes back, so that answer is kept until evicted; at most `maxEntries`
 * sessions are held (least recently stored evicted first). Concurrent misses of one session share one
 * read, and a read that was in flight when an entry was dropped is not stored.
 */
export interface SessionCache {
  /** The state of `sessionId`, from the cache or else from `load`. */
  get(sessionId: string, load: () => Promise<SessionState | undefined>): Promise<SessionState | undefined>;
  /** Marks sessions revoked here and now (after a logout or reuse detection in this process). */
  revoke(sessionIds: Iterable<string>): void;
  /** Drops sessions, so that their next use reads storage (they changed elsewhere). */
  forget(sessionIds: Iterable<string>): void;
  /** Drops every session of `userId` (its scopes, tenant or ban changed, or it was deleted). */
  forgetUser(userId: string): void;
  /** Drops everything (changes may have gone unnoticed). */
  clear(): void;
  /** Sessions currently held. */
  readonly size: number;
}

/** Options of {@link createSessionCache}. */
export interface SessionCacheOptions {
  /** How long a live state is trusted, in milliseconds; default 1000. 0 disables caching of live states. */
  ttlMs?: number;
  /** Most sessions held; default 10 000. */
  maxEntries?: number;
  /** Clock in milliseconds; default `Date.now`. */
  now?: () => number;
}

interface Entry {
  state: SessionState | undefined;
  /** `Infinity` for states that cannot change back (revoked or missing sessions). */
  expiresAt: number;
}

/** Creates a {@link SessionCache}. */
export function createSessionCache(options: SessionCacheOptions = {}): SessionCache {
  const ttlMs = options.ttlMs ?? 1000;
  const maxEntries = options.maxEntries ?? 10_000;
  const now = options.now ?? Date.now;
  if (!(ttlMs >= 0)) throw new RangeError("ttlMs must be non-negative");
  if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError("maxEntries must be a positive integer");

  const entries = new Map<string, Entry>();
  const loading = new Map<string, Promise<SessionState | undefined>>();
  // Bumped when entries are dropped by user or all at once: reads begun before then are not stored.
  let generation = 0;

  function store(sessionId: string, entry: Entry): void {
    entries.delete(sessionId);
    entries.set(sessionId, entry);
    if (entries.size > maxEntries) {
      const oldest = entries.keys().next();
      if (!oldest.done) entries.delete(oldest.value);
    }
  }

  const isFinal = (state: SessionState | undefined) => state === undefined || !state.live;

  return {
    get size() {
      return entries.size;
    },

    get(sessionId, load) {
      const entry = entries.get(sessionId);
      if (entry && entry.expiresAt > now()) return Promise.resolve(entry.state);
      const pending = loading.get(sessionId);
      if (pending) return pending;

      const started = generation;
      const read = load().then(
        (state) => {
          // A revocation or invalidation recorded while the read was in flight wins over what it saw.
          if (loading.get(sessionId) === read) {
            loading.delete(sessionId);
            if (generation === started) store(sessionId, { state, expiresAt: isFinal(state) ? Infinity : now() + ttlMs });
          }
          return state;
        },
        (error: unknown) => {
          if (loading.get(sessionId) === read) loading.delete(sessionId);
          throw error;
        },
      );
      loading.set(sessionId, read);
      return read;
    },

    revoke(sessionIds) {
      for (const sessionId of sessionIds) {
        loading.delete(sessionId);
        const previous = entries.get(sessionId)?.state;
        store(sessionId, {
          state: previous ? { ...previous, live: false } : undefined,
          expiresAt: Infinity,
        });
      }
    },

    forget(sessionIds) {
      for (const sessionId of sessionIds) {
        loading.delete(sessionId);
        entries.delete(sessionId);
      }
    },

    forgetUser(userId) {
      generation++;
      for (const [sessionId, entry] of entries) if (entry.state?.userId === userId) entries.delete(sessionId);
    },

    clear() {
      generation++;
      entries.clear();
      loading.clear();
    },
  };
}
