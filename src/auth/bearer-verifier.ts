import { apiError } from "../errors/catalogue.js";
import type { Principal } from "./principal.js";
import type { SessionCache } from "./session-cache.js";
import type { SessionStore } from "./session-store.js";
import { createLruCache } from "../util/lru-cache.js";
import { principalFromClaims, type AccessTokenClaims, type TokenIssuer } from "./tokens.js";

// Ids of our users and sessions; anything else cannot name a session, so it never reaches the database.
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What {@link createBearerVerifier} checks tokens against. */
export interface BearerVerifierOptions {
  issuer: TokenIssuer;
  sessions: Pick<SessionStore, "state">;
  cache: SessionCache;
  /** Clock in milliseconds, for bans and token expiry; default `Date.now`. */
  now?: () => number;
  /** Verified tokens remembered, so a busy token skips the HMAC; default 10 000. */
  maxVerifiedTokens?: number;
}

/**
 * Creates the check of an access token: signature and claims (see {@link TokenIssuer.verify}, results
 * remembered per token until its expiry), then
 * that its session is still live (`session_revoked` otherwise, so a logout takes effect at once rather
 * than at expiry) and its user not banned (`user_banned`). Session states come through `cache`.
 *
 * The principal's rights follow the user as stored now, not as they were when the token was signed,
 * so that a change reaches every instance as fast as the session state does (within the cache's
 * bound, normally milliseconds through the invalidation bus): its scopes are those the token names
 * that the user still holds (a removed scope stops working at once; a granted one needs a refresh,
 * so a token never grants more than it says), and its tenant is the user's current one.
 */
export function createBearerVerifier(options: BearerVerifierOptions): (token: string) => Promise<Principal> {
  const { issuer, sessions, cache } = options;
  const now = options.now ?? Date.now;
  // Keyed by the exact token text: only a token that verified once can hit. A hit is honoured only
  // before `exp` (or before its retired key stops verifying); after it the full verification runs
  // again and answers token_expired (or invalid_token).
  const verified = createLruCache<string, { claims: AccessTokenClaims; trustedUntil: number }>(options.maxVerifiedTokens ?? 10_000);
  const verify = async (token: string): Promise<AccessTokenClaims> => {
    const result = await issuer.verifyUntil(token);
    verified.set(token, result);
    return result.claims;
  };
  return async (token) => {
    const cached = verified.get(token);
    const claims = cached && now() < cached.trustedUntil ? cached.claims : await verify(token);
    if (!uuidPattern.test(claims.sub) || !uuidPattern.test(claims.session_id)) throw apiError("invalid_token");
    const state = await cache.get(claims.session_id, () => sessions.state(claims.session_id, claims.sub));
    if (!state?.live) throw apiError("session_revoked");
    if (state.bannedUntil !== null && state.bannedUntil.getTime() > now()) throw apiError("user_banned");
    const principal = principalFromClaims(claims);
    const { scopes, tenantId } = state.account;
    return { ...principal, scopes: principal.scopes.filter((scope) => scopes.includes(scope)), tenantId };
  };
}
