import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";

/** What is known about the request being served, for its log lines and metrics. */
export interface RequestScope {
  /** The request id: the caller's `X-Request-Id` when sane, else a new UUID. */
  readonly id: string;
  /** The RPC that served it (`package.Service/Method`), once known. */
  route?: string;
  /** The catalogue reason it failed with, once known. */
  reason?: string;
}

const storage = new AsyncLocalStorage<RequestScope>();

/** Runs `work` with `scope` as the current request (for everything it awaits, too). */
export function runInRequestScope<T>(scope: RequestScope, work: () => T): T {
  return storage.run(scope, work);
}

/** The request being served by the current asynchronous context, if any. */
export function currentRequestScope(): RequestScope | undefined {
  return storage.getStore();
}

/**
 * A pino `mixin`: adds `reqId` to every line logged while a request is served, whichever logger
 * writes it, so that one request's lines can be found together.
 */
export function requestIdMixin(): { reqId?: string } {
  const scope = storage.getStore();
  return scope ? { reqId: scope.id } : {};
}

// Printable, short, and unable to carry a bearer token, an API key or a refresh token (all longer).
const saneRequestId = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,39}$/;

/** The id of a request: `incoming` (the `X-Request-Id` header) if it is sane, else a new UUID. */
export function requestIdFrom(incoming: string | string[] | undefined): string {
  const value = Array.isArray(incoming) ? incoming[0] : incoming;
  return value !== undefined && saneRequestId.test(value) ? value : randomUUID();
}
