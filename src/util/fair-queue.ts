import type { ConnectError } from "@connectrpc/connect";

/** Options of {@link createFairQueue}. */
export interface FairQueueOptions {
  /** Slots shared by every key (for queries: the pool's connections). */
  capacity: number;
  /** Most slots one key may hold at once. */
  perKeyMax: number;
  /** Most requests of one key waiting at once; one more is refused with {@link FairQueueOptions.full}. */
  queueLength: number;
  /** Longest wait for a slot, in ms; then the request fails with {@link FairQueueOptions.timedOut}. */
  timeoutMs: number;
  /** The error refusing a request whose key's queue is full. */
  full(key: string): ConnectError;
  /** The error failing a request that waited `timeoutMs`. */
  timedOut(key: string): ConnectError;
}

/** Gives back a slot; calling it twice is harmless. */
export type Release = () => void;

/**
 * Shares a fixed number of slots fairly between keys (tenants): a request takes a free slot at
 * once when its key holds fewer than `perKeyMax`; otherwise it waits in its key's bounded queue.
 * A freed slot goes to the waiting key holding the fewest slots (ties in turn), so a key that
 * floods cannot starve the others: two busy keys end up with half the slots each, and a third
 * key's request is next in line whatever the others have queued.
 */
export interface FairQueue {
  /** Resolves with a slot for `key`, or rejects with the options' `full` or `timedOut` error. */
  acquire(key: string): Promise<Release>;
  /**
   * A slot for `key` at once, if one is free and no request of `key` waits; undefined otherwise
   * (then {@link FairQueue.acquire} queues). What `acquire` does first, without its promise.
   */
  tryAcquire(key: string): Release | undefined;
  /** Slots held by `key`. */
  inFlight(key: string): number;
  /** Requests of `key` waiting. */
  waiting(key: string): number;
}

interface Waiter {
  grant(release: Release): void;
  timer: NodeJS.Timeout;
}

/** Creates a {@link FairQueue}. */
export function createFairQueue(options: FairQueueOptions): FairQueue {
  const { capacity, perKeyMax, queueLength, timeoutMs } = options;
  const held = new Map<string, number>();
  // Keys with waiters, in the order they started waiting; each key's waiters in arrival order.
  const queues = new Map<string, Set<Waiter>>();
  let total = 0;

  function take(key: string): Release {
    total++;
    held.set(key, (held.get(key) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      total--;
      const left = (held.get(key) ?? 1) - 1;
      if (left <= 0) held.delete(key);
      else held.set(key, left);
      handOver();
    };
  }

  /** Gives free slots to the waiting keys holding the fewest. */
  function handOver(): void {
    while (total < capacity && queues.size > 0) {
      let chosen: string | undefined;
      let fewest = Infinity;
      for (const key of queues.keys()) {
        const count = held.get(key) ?? 0;
        if (count < perKeyMax && count < fewest) {
          chosen = key;
          fewest = count;
        }
      }
      if (chosen === undefined) return;
      const queue = queues.get(chosen) as Set<Waiter>;
      const waiter = queue.values().next().value as Waiter;
      queue.delete(waiter);
      // The key goes to the back of the line for ties.
      queues.delete(chosen);
      if (queue.size > 0) queues.set(chosen, queue);
      clearTimeout(waiter.timer);
      waiter.grant(take(chosen));
    }
  }

  function tryAcquire(key: string): Release | undefined {
    const count = held.get(key) ?? 0;
    return total < capacity && count < perKeyMax && !queues.has(key) ? take(key) : undefined;
  }

  return {
    tryAcquire,
    acquire(key) {
      const free = tryAcquire(key);
      if (free) return Promise.resolve(free);
      const queue = queues.get(key) ?? new Set<Waiter>();
      if (queue.size >= queueLength) return Promise.reject(options.full(key));
      return new Promise<Release>((resolve, reject) => {
        const waiter: Waiter = {
          grant: resolve,
          timer: setTimeout(() => {
            queue.delete(waiter);
            if (queue.size === 0 && queues.get(key) === queue) queues.delete(key);
            reject(options.timedOut(key));
          }, timeoutMs),
        };
        queue.add(waiter);
        if (!queues.has(key)) queues.set(key, queue);
      });
    },
    inFlight: (key) => held.get(key) ?? 0,
    waiting: (key) => queues.get(key)?.size ?? 0,
  };
}
