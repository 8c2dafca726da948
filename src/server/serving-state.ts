/** Whether the service can take work right now, and why not. */
export interface Readiness {
  ready: boolean;
  reason?: string;
}

/**
 * Whether this instance should receive traffic: the one source of truth behind `/ready` and the
 * gRPC health service. It stops being ready for good the moment shutdown begins, and in between
 * whenever storage does not answer.
 */
export interface ServingState {
  /** Not shutting down, and storage answers. */
  readiness(): Promise<Readiness>;
  readonly shuttingDown: boolean;
  /** Marks the start of shutdown (idempotent): aborts {@link shutdownSignal}. */
  beginShutdown(): void;
  /** Aborted when shutdown begins. */
  readonly shutdownSignal: AbortSignal;
}

/** Creates a {@link ServingState} over a storage `ping`. */
export function createServingState(ping: () => Promise<boolean>): ServingState {
  const shutdown = new AbortController();
  const shuttingDown = () => shutdown.signal.aborted;
  return {
    get shuttingDown() {
      return shuttingDown();
    },
    shutdownSignal: shutdown.signal,
    beginShutdown: () => shutdown.abort(),
    async readiness() {
      if (shuttingDown()) return { ready: false, reason: "shutting down" };
      if (!(await ping())) return { ready: false, reason: "storage unreachable" };
      // Shutdown may have begun while the ping was out.
      return shuttingDown() ? { ready: false, reason: "shutting down" } : { ready: true };
    },
  };
}
