import { createStateCache, type StateCacheOptions } from "../util/state-cache.js";
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
  /**
   * Records that `userId` signed in at `at` (stored already) in the states of its other sessions,
   * held or being read, so that they answer the new `last_sign_in_at` without a read. Dropping them
   * instead made every sign-in send the user's other sessions back to storage, each sign-in of a
   * flood throwing away the reads in flight.
   */
  recordSignIn(userId: string, at: Date): void;
  /** Drops everything (changes may have gone unnoticed). */
  clear(): void;
  /** Sessions currently held. */
  readonly size: number;
}

/** Options of {@link createSessionCache}. */
export type SessionCacheOptions = StateCacheOptions;

/** Creates a {@link SessionCache}: revoked or missing sessions never come back, so they are final. */
export function createSessionCache(options: SessionCacheOptions = {}): SessionCache {
  const cache = createStateCache<SessionState>((state) => state === undefined || !state.live, options);
  return {
    get size() {
      return cache.size;
    },
    get: (sessionId, load) => cache.get(sessionId, load),
    revoke(sessionIds) {
      for (const sessionId of sessionIds) {
        const previous = cache.peek(sessionId);
        cache.settle(sessionId, previous ? { ...previous, live: false } : undefined);
      }
    },
    forget(sessionIds) {
      for (const sessionId of sessionIds) cache.forget(sessionId);
    },
    forgetUser: (userId) => cache.forgetWhere((state) => state.account.id === userId),
    recordSignIn: (userId, at) =>
      cache.update(
        (state) => state.account.id === userId,
        (state) => ({ ...state, account: { ...state.account, lastSignInAt: at } }),
      ),
    clear: () => cache.clear(),
  };
}
