/**
 * Remembers states loaded from storage, so that a busy key costs one read per `ttlMs` rather than
 * one per request.
 *
 * Bounds: a state is trusted for at most `ttlMs`, unless `isFinal` says it can never change back
 * (a revoked session or key), which is kept until evicted; at most `maxEntries` keys are held (least
 * recently stored evicted first). Concurrent misses of one key share one read, and a read that was in
 * flight when its entry was dropped or replaced is not stored.
 */
export interface StateCache<S> {
  /** The state of `key`, from the cache or else from `load`. */
  get(key: string, load: () => Promise<S | undefined>): Promise<S | undefined>;
  /** Stores a state known here and now (such as a revocation made by this process) as final. */
  settle(key: string, state: S | undefined): void;
  /** The state held for `key`, if any, without loading. */
  peek(key: string): S | undefined;
  /** Drops `key`, so that its next use reads storage. */
  forget(key: string): void;
  /** Drops every entry whose state matches `predicate`. */
  forgetWhere(predicate: (state: S) => boolean): void;
  /**
   * Replaces every held state that matches `predicate` by `change(state)`, keeping its expiry, and
   * does the same to what reads in flight now return and store: for a change made here whose outcome
   * is known, so that nothing has to be read again.
   */
  update(predicate: (state: S) => boolean, change: (state: S) => S): void;
  /** Drops everything. */
  clear(): void;
  /** Keys currently held. */
  readonly size: number;
}

/** Bounds of a {@link StateCache}. */
export interface StateCacheOptions {
  /** How long a non-final state is trusted, in milliseconds; default 1000. 0 disables caching of such states. */
  ttlMs?: number;
  /** Most keys held; default 10 000. */
  maxEntries?: number;
  /** Clock in milliseconds; default `Date.now`. */
  now?: () => number;
}

interface Entry<S> {
  state: S | undefined;
  /** `Infinity` for final states. */
  expiresAt: number;
}

/** Creates a {@link StateCache}; `isFinal` tells which loaded states can never change back. */
export function createStateCache<S>(
  isFinal: (state: S | undefined) => boolean,
  options: StateCacheOptions = {},
): StateCache<S> {
  const ttlMs = options.ttlMs ?? 1000;
  const maxEntries = options.maxEntries ?? 10_000;
  const now = options.now ?? Date.now;
  if (!(ttlMs >= 0)) throw new RangeError("ttlMs must be non-negative");
  if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError("maxEntries must be a positive integer");

  const entries = new Map<string, Entry<S>>();
  /** Reads in flight, each with the {@link StateCache.update} edits made while it was out. */
  const loading = new Map<string, { read: Promise<S | undefined>; edits: ((state: S) => S)[] }>();
  // Bumped when entries are dropped in bulk: reads begun before then are not stored.
  let generation = 0;

  function store(key: string, entry: Entry<S>): void {
    entries.delete(key);
    entries.set(key, entry);
    if (entries.size > maxEntries) {
      const oldest = entries.keys().next();
      if (!oldest.done) entries.delete(oldest.value);
    }
  }

  return {
    get size() {
      return entries.size;
    },

    get(key, load) {
      const entry = entries.get(key);
      if (entry && entry.expiresAt > now()) return Promise.resolve(entry.state);
      const pending = loading.get(key);
      if (pending) return pending.read;

      const started = generation;
      const edits: ((state: S) => S)[] = [];
      const read = load().then(
        (loaded) => {
          let state = loaded;
          for (const edit of edits) if (state !== undefined) state = edit(state);
          // A change recorded while the read was in flight wins over what the read saw.
          if (loading.get(key)?.read === read) {
            loading.delete(key);
            if (generation === started) store(key, { state, expiresAt: isFinal(state) ? Infinity : now() + ttlMs });
          }
          return state;
        },
        (error: unknown) => {
          if (loading.get(key)?.read === read) loading.delete(key);
          throw error;
        },
      );
      loading.set(key, { read, edits });
      return read;
    },

    settle(key, state) {
      loading.delete(key);
      store(key, { state, expiresAt: Infinity });
    },

    peek(key) {
      return entries.get(key)?.state;
    },

    forget(key) {
      loading.delete(key);
      entries.delete(key);
    },

    forgetWhere(predicate) {
      generation++;
      for (const [key, entry] of entries) if (entry.state !== undefined && predicate(entry.state)) entries.delete(key);
    },

    update(predicate, change) {
      for (const entry of entries.values()) {
        if (entry.state !== undefined && predicate(entry.state)) entry.state = change(entry.state);
      }
      const edit = (state: S) => (predicate(state) ? change(state) : state);
      for (const flight of loading.values()) flight.edits.push(edit);
    },

    clear() {
      generation++;
      entries.clear();
      loading.clear();
    },
  };
}
