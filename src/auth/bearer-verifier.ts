import { apiError } from "../errors/catalogue.js";
import type { Principal } from "./principal.js";
import type { SessionCache } from "./session-cache.js";
import type { SessionStore } from "./session-store.js";
import { principalFromClaims, type TokenIssuer } from "./tokens.js";

// Ids of our users and sessions; anything else cannot name a session, so it never reaches the database.
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What {@link createBearerVerifier} checks tokens against. */
export interface BearerVerifierOptions {
  issuer: TokenIssuer;
  sessions: Pick<SessionStore, "state">;
  cache: SessionCache;
  /** Clock in milliseconds, for bans; default `Date.now`. */
  now?: () => number;
}

/**
 * Creates the check of an access token: signature and claims (see {@link TokenIssuer.verify}), then
 * that its session is still live (`session_revoked` otherwise, so a logout takes effect at once rather
 * than at expiry) and its user not banned (`user_banned`). Session states come through `cache`.
 */
export function createBearerVerifier(options: BearerVerifierOptions): (token: string) => Promise<Principal> {
  const { issuer, sessions, cache } = options;
  const now = options.now ?? Date.now;
  return async (token) => {
    const claims = await issuer.verify(token);
    if (!uuidPattern.test(claims.sub) || !uuidPattern.test(claims.session_id)) throw apiError("invalid_token");
    const state = await cache.get(claims.session_id, () => sessions.state(claims.session_id, claims.sub));
    if (!state?.live) throw apiError("session_revoked");
    if (state.bannedUntil !== null && state.bannedUntil.getTime() > now()) throw apiError("user_banned");
    return principalFromClaims(claims);
  };
}
