import { invalidationChannel } from "../db/migrations/0004-cache-invalidation.js";
import { startNotifyListener, type NotifyListener, type NotifyListenerOptions } from "../db/notify-listener.js";
import type { Logger } from "../logging/logger.js";

/** A change published by the database (see migration 0004) that cached credentials must follow. */
export type Invalidation =
  | { kind: "session"; id: string }
  | { kind: "user"; id: string }
  | { kind: "api_key"; id: string };

const kinds: ReadonlySet<string> = new Set<Invalidation["kind"]>(["session", "user", "api_key"]);

/** Parses a notification payload, `<kind>:<id>`; undefined for anything else. */
export function parseInvalidation(payload: string): Invalidation | undefined {
  const colon = payload.indexOf(":");
  if (colon <= 0 || colon === payload.length - 1) return undefined;
  const kind = payload.slice(0, colon);
  if (!kinds.has(kind)) return undefined;
  return { kind: kind as Invalidation["kind"], id: payload.slice(colon + 1) };
}

/** The caches an {@link InvalidationBus} keeps in step with the database. */
export interface InvalidationTargets {
  /** Drops the cached state of a session, so its next use reads the database. */
  forgetSession(sessionId: string): void;
  /** Drops every cached session of a user (scopes, tenant, role or ban changed; user deleted). */
  forgetUser(userId: string): void;
  /** Drops the cached state of an API key. */
  forgetApiKey(keyId: string): void;
  /** Drops everything: notifications may have been missed. */
  forgetAll(): void;
}

/** Options of {@link startInvalidationBus}. */
export interface InvalidationBusOptions
  extends Pick<NotifyListenerOptions, "initialBackoffMs" | "maxBackoffMs" | "heartbeatMs" | "timeoutMs"> {
  /** Connection URL of the database whose triggers publish. Never logged. */
  url: string;
  targets: InvalidationTargets;
  logger: Pick<Logger, "info" | "warn" | "debug">;
  /** Told of every invalidation received (metrics). */
  onReceived?(kind: Invalidation["kind"]): void;
}

/** The running bus: one listening connection per instance. */
export type InvalidationBus = Pick<NotifyListener, "listening" | "connections" | "close">;

/**
 * Keeps this instance's credential caches in step with changes made by any instance (or the admin
 * CLI, or SQL): listens on the invalidation channel and drops the named cache entries as each change
 * commits, typically within milliseconds. Whenever the listening connection (re)starts, every cache
 * is cleared, since notifications sent while it was down are lost; while it is down, the caches'
 * own lifetime (one second) bounds staleness.
 */
export function startInvalidationBus(options: InvalidationBusOptions): Promise<InvalidationBus> {
  const { targets, logger } = options;
  return startNotifyListener({
    ...options,
    channel: invalidationChannel,
    onNotification(payload) {
      const event = parseInvalidation(payload);
      if (!event) {
        logger.warn({ payload: payload.slice(0, 100) }, "ignoring an unrecognised invalidation");
        return;
      }
      logger.debug({ invalidation: event.kind, id: event.id }, "cache invalidation received");
      options.onReceived?.(event.kind);
      if (event.kind === "session") targets.forgetSession(event.id);
      else if (event.kind === "user") targets.forgetUser(event.id);
      else targets.forgetApiKey(event.id);
    },
    onListening: () => targets.forgetAll(),
  });
}
