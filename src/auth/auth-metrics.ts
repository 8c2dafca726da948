import type { ApiKeyStore } from "./api-key-store.js";
import type { PasswordHasher } from "./passwords.js";
import type { RateLimiter } from "./rate-limiter.js";
import type { RotationOutcome, SessionStore } from "./session-store.js";
import type { UserStore } from "./user-store.js";

/** What the auth module reports for metrics; failures are counted per reason with every request. */
export interface AuthEvents {
  signedUp(): void;
  signedIn(): void;
  /** A refresh token was presented and the store decided `outcome`. */
  refreshed(outcome: RotationOutcome["kind"]): void;
  /** `count` sessions or API keys were revoked. */
  revoked(kind: "session" | "api_key", count: number): void;
  /** A rate limit refused a request; `limit` names the budget, e.g. `signin:ip`. */
  rateLimited(limit: string): void;
  /** One argon2id verification ran: against a stored hash, or against the dummy for an unknown email. */
  passwordVerified(): void;
}

/** Reports nothing: the default of code that runs without metrics (tests, the admin CLI). */
export const silentAuthEvents: AuthEvents = Object.freeze({
  signedUp: () => undefined,
  signedIn: () => undefined,
  refreshed: () => undefined,
  revoked: () => undefined,
  rateLimited: () => undefined,
  passwordVerified: () => undefined,
});

/** `hasher` reporting every verification, real or dummy, to `events`. */
export function instrumentPasswordHasher(hasher: PasswordHasher, events: AuthEvents): PasswordHasher {
  return {
    ...hasher,
    async verify(hash, password) {
      const result = await hasher.verify(hash, password);
      events.passwordVerified();
      return result;
    },
    async verifyAgainstDummy(password) {
      const result = await hasher.verifyAgainstDummy(password);
      events.passwordVerified();
      return result;
    },
  };
}

/** `store` reporting sign-ups to `events`. */
export function instrumentUserStore(store: UserStore, events: AuthEvents): UserStore {
  return {
    ...store,
    async create(em, input) {
      const user = await store.create(em, input);
      events.signedUp();
      return user;
    },
  };
}

/** `store` reporting sign-ins, refresh outcomes and revoked sessions to `events`. */
export function instrumentSessionStore(store: SessionStore, events: AuthEvents): SessionStore {
  const counted = async (revoking: Promise<string[]>) => {
    const ids = await revoking;
    if (ids.length > 0) events.revoked("session", ids.length);
    return ids;
  };
  return {
    ...store,
    async startAfterSignIn(userId, verifiedPasswordHash, signedInAt, client, newPasswordHash) {
      const session = await store.startAfterSignIn(userId, verifiedPasswordHash, signedInAt, client, newPasswordHash);
      if (session) events.signedIn();
      return session;
    },
    async rotate(refreshToken) {
      const outcome = await store.rotate(refreshToken);
      events.refreshed(outcome.kind);
      if (outcome.kind === "reused") events.revoked("session", 1);
      return outcome;
    },
    revoke: (userId, sessionId, scope, em) => counted(store.revoke(userId, sessionId, scope, em)),
    revokeAll: (userId, em) => counted(store.revokeAll(userId, em)),
  };
}

/** `store` reporting revoked API keys to `events`. */
export function instrumentApiKeyStore(store: ApiKeyStore, events: AuthEvents): ApiKeyStore {
  return {
    ...store,
    async revoke(id) {
      const revoked = await store.revoke(id);
      if (revoked) events.revoked("api_key", 1);
      return revoked;
    },
  };
}

/** The budget a rate-limit key belongs to: its first two segments (`signin:ip:1.2.3.4` → `signin:ip`). */
export function rateLimitName(key: string): string {
  return key.split(":", 2).join(":");
}

/** `limiter` reporting the refusals of `consume` to `events` (a peek refuses nothing by itself). */
export function instrumentRateLimiter(limiter: RateLimiter, events: AuthEvents): RateLimiter {
  return {
    peek: (key, limit, windowSeconds) => limiter.peek(key, limit, windowSeconds),
    async consume(key, limit, windowSeconds) {
      const decision = await limiter.consume(key, limit, windowSeconds);
      if (!decision.allowed) events.rateLimited(rateLimitName(key));
      return decision;
    },
  };
}
