import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { AuthEvents } from "../auth/auth-metrics.js";
import type { ConnectionEvents } from "./connection-guard.js";
import type { NodeServerResponse } from "./node-types.js";
import type { Responder } from "./responder.js";

/** Connections of a pool at one moment. */
export interface PoolStats {
  /** Checked out by a query. */
  used: number;
  /** Open and free. */
  idle: number;
  /** Callers waiting for a connection. */
  pending: number;
}

/** The labels of one finished request. */
export interface RequestLabels {
  /** `package.Service/Method` for RPCs (REST included), the path for fixed endpoints, else `other`. */
  route: string;
  /** `rest`, `connect`, `grpc`, `grpc-web` or `http`. */
  protocol: string;
  /** The outcome as a gRPC code name: `ok`, `unauthenticated`, `unavailable`, … */
  code: string;
  /** The catalogue reason of a failure, or "" on success. */
  reason: string;
}

/** The service's Prometheus metrics. */
export interface Metrics {
  /** The registry `/metrics` exposes; one per server, so several servers in one process stay apart. */
  readonly registry: Registry;
  /** Counts a finished request and observes its latency. */
  observeRequest(labels: RequestLabels, seconds: number): void;
  /** Marks a request in flight until the returned function is called. */
  requestStarted(): () => void;
  /** Sign-ins, sign-ups, refreshes, revocations and rate-limit hits. */
  readonly auth: AuthEvents;
  /** Counts a cache invalidation received from the database. */
  invalidationReceived(kind: string): void;
  /** Reports the pool `name` (e.g. `auth`, `query`) at every scrape. */
  trackPool(name: string, stats: () => PoolStats | undefined): void;
  /** Reports whether the invalidation listener is connected at every scrape. */
  trackListener(listening: () => boolean): void;
  /** Connections open, and connections cut by a deadline or the connection cap. */
  readonly connections: ConnectionEvents;
}

const latencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Creates the {@link Metrics}, with Node's default process metrics (memory, CPU, event loop lag, GC). */
export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const requests = new Counter({
    name: "helios_requests_total",
    help: "Requests finished, by route, protocol, outcome code and failure reason",
    labelNames: ["route", "protocol", "code", "reason"] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: "helios_request_duration_seconds",
    help: "Time from a request's arrival to the end of its response",
    labelNames: ["route", "protocol", "code"] as const,
    buckets: latencyBuckets,
    registers: [registry],
  });
  const inFlight = new Gauge({ name: "helios_requests_in_flight", help: "Requests being served", registers: [registry] });
  const signUps = new Counter({ name: "helios_sign_ups_total", help: "Accounts created", registers: [registry] });
  const signIns = new Counter({ name: "helios_sign_ins_total", help: "Successful password sign-ins", registers: [registry] });
  const passwordVerifications = new Counter({
    name: "helios_password_verifications_total",
    help: "argon2id verifications run by sign-ins, including the dummy one for unknown emails",
    registers: [registry],
  });
  const refreshes = new Counter({
    name: "helios_refreshes_total",
    help: "Refresh tokens presented, by outcome (rotated, replayed, reused, banned, invalid)",
    labelNames: ["outcome"] as const,
    registers: [registry],
  });
  const revocations = new Counter({
    name: "helios_revocations_total",
    help: "Sessions and API keys revoked by this instance",
    labelNames: ["kind"] as const,
    registers: [registry],
  });
  const rateLimitHits = new Counter({
    name: "helios_rate_limit_hits_total",
    help: "Requests refused by a rate limit, by budget",
    labelNames: ["limit"] as const,
    registers: [registry],
  });
  const invalidations = new Counter({
    name: "helios_cache_invalidations_total",
    help: "Cache invalidations received from the database, by kind",
    labelNames: ["kind"] as const,
    registers: [registry],
  });

  const pools = new Map<string, () => PoolStats | undefined>();
  new Gauge({
    name: "helios_db_pool_connections",
    help: "Database pool connections by pool and state (used, idle, pending: callers waiting)",
    labelNames: ["pool", "state"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [pool, read] of pools) {
        const stats = read();
        if (!stats) continue;
        for (const state of ["used", "idle", "pending"] as const) this.set({ pool, state }, stats[state]);
      }
    },
  });
  let listening: (() => boolean) | undefined;
  new Gauge({
    name: "helios_invalidation_listener_up",
    help: "1 while this instance listens for cache invalidations, 0 while it relies on cache lifetimes",
    registers: [registry],
    collect() {
      if (listening) this.set(listening() ? 1 : 0);
    },
  });

  const connectionsOpen = new Gauge({ name: "helios_connections_open", help: "Client connections open", registers: [registry] });
  const connectionsCut = new Counter({
    name: "helios_connections_closed_total",
    help: "Connections closed (HTTP/2 streams cancelled, for request_timeout) by a deadline, or refused by the connection cap",
    labelNames: ["reason"] as const,
    registers: [registry],
  });

  return {
    registry,
    observeRequest(labels, seconds) {
      requests.inc({ ...labels });
      duration.observe({ route: labels.route, protocol: labels.protocol, code: labels.code }, seconds);
    },
    requestStarted() {
      inFlight.inc();
      let done = false;
      return () => {
        if (done) return;
        done = true;
        inFlight.dec();
      };
    },
    auth: {
      signedUp: () => signUps.inc(),
      signedIn: () => signIns.inc(),
      refreshed: (outcome) => refreshes.inc({ outcome }),
      revoked: (kind, count) => revocations.inc({ kind }, count),
      rateLimited: (limit) => rateLimitHits.inc({ limit }),
      passwordVerified: () => passwordVerifications.inc(),
    },
    invalidationReceived: (kind) => invalidations.inc({ kind }),
    trackPool: (name, stats) => void pools.set(name, stats),
    trackListener(read) {
      listening = read;
    },
    connections: {
      opened() {
        connectionsOpen.inc();
        return () => connectionsOpen.dec();
      },
      cut: (reason) => connectionsCut.inc({ reason }),
    },
  };
}

/** The responder of `GET /metrics` (the Prometheus text format); undefined for other paths. */
export function metricsResponder(path: string, res: NodeServerResponse, metrics: Metrics): Responder | undefined {
  if (path !== "/metrics") return undefined;
  return async () => {
    const text = await metrics.registry.metrics();
    res.writeHead(200, { "content-type": metrics.registry.contentType, "content-length": String(Buffer.byteLength(text)) });
    res.end(text);
  };
}
