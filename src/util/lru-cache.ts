/** A bounded map that forgets the least recently used entry when full. */
export interface LruCache<K, V> {
  /** The value of `key`, marking it as most recently used. */
  get(key: K): V | undefined;
  /** Stores `value` under `key`, evicting the least recently used entry when over capacity. */
  set(key: K, value: V): void;
  /** Number of entries held. */
  readonly size: number;
}

/** Creates an {@link LruCache} holding at most `capacity` entries (0 disables caching). */
export function createLruCache<K, V>(capacity: number): LruCache<K, V> {
  // A Map iterates in insertion order, so re-inserting on access keeps the oldest entry first.
  const entries = new Map<K, V>();
  return {
    get(key) {
      const value = entries.get(key);
      if (value !== undefined) {
        entries.delete(key);
        entries.set(key, value);
      }
      return value;
    },
    set(key, value) {
      if (capacity <= 0) return;
      entries.delete(key);
      entries.set(key, value);
      if (entries.size > capacity) {
        const oldest = entries.keys().next();
        if (!oldest.done) entries.delete(oldest.value);
      }
    },
    get size() {
      return entries.size;
    },
  };
}
