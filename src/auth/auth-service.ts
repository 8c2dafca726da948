import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { MikroORM } from "@mikro-orm/postgresql";
import { UserSchema, type AuthService, type Session, type User as UserMessage } from "../../gen/helios/auth/v1/auth_pb.js";
import type { AuthConfig } from "../config/config.js";
import type { User } from "../db/entities/user.js";
import { apiError } from "../errors/catalogue.js";
import type { Logger } from "../logging/logger.js";
import { clientAddressKey } from "../server/request-context.js";
import type { AuthRateLimits } from "./auth-rate-limits.js";
import { normalizeEmail } from "./email.js";
import { assertPasswordPolicy, maxPasswordBytes } from "./password-policy.js";
import type { PasswordHasher } from "./passwords.js";
import { isPublishable, principalKey, publishableKeyKey, revokedSessionKey, type Principal } from "./principal.js";
import { isWellFormedRefreshToken } from "./refresh-tokens.js";
import type { SessionCache } from "./session-cache.js";
import { sessionMessage, userMessage } from "./session-response.js";
import type { LogoutScope, SessionStore } from "./session-store.js";
import type { TokenIssuer } from "./tokens.js";
import { isDuplicateEmailError, type UserStore } from "./user-store.js";

/** Everything the AuthService handlers use. */
export interface AuthServiceDeps {
  config: AuthConfig;
  orm: MikroORM;
  issuer: TokenIssuer;
  hasher: PasswordHasher;
  users: UserStore;
  sessions: SessionStore;
  cache: SessionCache;
  limits: AuthRateLimits;
  logger: Logger;
}

const logoutScopes: readonly LogoutScope[] = ["local", "global", "others"];

const isBanned = (user: User) => user.bannedUntil !== null && user.bannedUntil.getTime() > Date.now();

/** The principal of a call made with a user's access token. */
function userPrincipalOf(ctx: HandlerContext): Principal & { sessionId: string } {
  const principal = ctx.values.get(principalKey);
  if (!principal) throw apiError("unauthorized");
  if (principal.kind !== "user" || principal.sessionId === undefined) {
    throw apiError("insufficient_scope", "This endpoint needs a user's access token");
  }
  return { ...principal, sessionId: principal.sessionId };
}

/**
 * What GetUser answers for an API key: the key as the caller, its id in `id` and no email. A
 * publishable key is nobody: it may sign users up and nothing else.
 */
function apiKeyUserMessage(principal: Principal): UserMessage {
  if (isPublishable(principal.scopes)) throw apiError("insufficient_scope", "A publishable key may only sign users up");
  return create(UserSchema, { id: principal.id, role: principal.role, tenantId: principal.tenantId, scopes: [...principal.scopes] });
}

/**
 * Implements AuthService: one implementation behind REST, Connect and gRPC. Handlers validate,
 * rate-limit, and map store outcomes onto catalogue errors; storage details live in the stores.
 */
export function createAuthServiceImpl(deps: AuthServiceDeps): ServiceImpl<typeof AuthService> {
  const { config, orm, issuer, hasher, users, sessions, cache, limits, logger } = deps;

  async function issue(user: User, sessionId: string, refreshToken: string): Promise<Session> {
    const access = await issuer.sign({
      userId: user.id,
      email: user.email,
      tenantId: user.tenant.id,
      scopes: user.scopes,
      sessionId,
    });
    return sessionMessage(access, refreshToken, user);
  }

  /**
   * The tenant of a sign-up: a publishable key's, else the default tenant unless sign-ups without a
   * key are disabled. A secret key is refused rather than ignored: its holder expects its tenant.
   * (Beside a publishable key it never gets here: the credentials interceptor refuses the pair as
   * `ambiguous_credentials`, since either tenant could be meant.)
   */
  function signUpTenant(ctx: HandlerContext): string {
    const key = ctx.values.get(publishableKeyKey);
    if (key) return key.tenantId;
    if (ctx.values.get(principalKey)?.kind === "api_key") {
      throw apiError("insufficient_scope", "Sign-up takes a publishable key (scope signup), not a secret key");
    }
    if (config.disableSignup) throw apiError("signup_disabled");
    return config.defaultTenant;
  }

  async function signUp(rawEmail: string, password: string, ctx: HandlerContext): Promise<Session> {
    const tenantId = signUpTenant(ctx);
    await limits.signUp(ctx.values.get(clientAddressKey));
    const email = normalizeEmail(rawEmail);
    assertPasswordPolicy(password);
    // Spares an argon2 hash for the common case; the unique index decides races.
    if (await users.findByEmail(email)) throw apiError("user_already_exists");
    const passwordHash = await hasher.hash(password);
    let created: { user: User; sessionId: string; refreshToken: string };
    try {
      created = await orm.em.fork().transactional(async (em) => {
        const user = await users.create(em, { email, passwordHash, tenantId });
        return { user, ...(await sessions.create(em, user.id)) };
      });
    } catch (error) {
      if (isDuplicateEmailError(error)) throw apiError("user_already_exists");
      throw error;
    }
    logger.info({ userId: created.user.id, tenantId, sessionId: created.sessionId }, "user signed up");
    return issue(created.user, created.sessionId, created.refreshToken);
  }

  async function passwordGrant(rawEmail: string, password: string, ctx: HandlerContext): Promise<Session> {
    if (rawEmail.trim() === "" || password === "") throw apiError("validation_failed", "email and password are required");
    let email: string | undefined;
    try {
      email = normalizeEmail(rawEmail);
    } catch {
      email = undefined;
    }
    await limits.signIn(ctx.values.get(clientAddressKey), email);
    // No account can have a malformed address or an over-long password, so answering these at once
    // reveals nothing about which accounts exist.
    if (email === undefined || Buffer.byteLength(password, "utf8") > maxPasswordBytes) throw apiError("invalid_credentials");

    const user = await users.findByEmail(email);
    // An unknown email still costs one argon2 verify, so it answers as slowly as a wrong password.
    const check = user
      ? await hasher.verify(user.passwordHash, password)
      : { ok: await hasher.verifyAgainstDummy(password), needsRehash: false };
    if (!user || !check.ok) {
      await limits.signInFailed(ctx.values.get(clientAddressKey), email);
      logger.debug({ reason: "invalid_credentials" }, "sign-in refused");
      throw apiError("invalid_credentials");
    }
    if (isBanned(user)) throw apiError("user_banned");
    const newHash = check.needsRehash ? await hasher.hash(password) : undefined;
    const session = await orm.em.fork().transactional(async (em) => {
      await users.recordSignIn(em, user, newHash);
      return sessions.create(em, user.id);
    });
    // Cached states of the user's other sessions hold the previous last_sign_in_at.
    cache.forgetUser(user.id);
    logger.info({ userId: user.id, sessionId: session.sessionId, rehashed: newHash !== undefined }, "user signed in");
    return issue(user, session.sessionId, session.refreshToken);
  }

  async function refreshGrant(refreshToken: string, ctx: HandlerContext): Promise<Session> {
    if (refreshToken === "") throw apiError("validation_failed", "refresh_token is required");
    await limits.refresh(ctx.values.get(clientAddressKey));
    if (!isWellFormedRefreshToken(refreshToken)) throw apiError("invalid_refresh_token");
    const outcome = await sessions.rotate(refreshToken);
    switch (outcome.kind) {
      case "invalid":
        throw apiError("invalid_refresh_token");
      case "banned":
        throw apiError("user_banned");
      case "reused":
        cache.revoke([outcome.sessionId]);
        logger.warn({ userId: outcome.userId, sessionId: outcome.sessionId }, "refresh token reused: session revoked");
        throw apiError("refresh_token_reused");
    }
    const user = await users.findById(outcome.userId);
    if (!user) throw apiError("invalid_refresh_token");
    logger.debug({ userId: user.id, sessionId: outcome.sessionId, outcome: outcome.kind }, "session refreshed");
    return issue(user, outcome.sessionId, outcome.refreshToken);
  }

  return {
    signUp: (req, ctx) => signUp(req.email, req.password, ctx),

    token(req, ctx) {
      switch (req.grantType) {
        case "":
        case "password":
          return passwordGrant(req.email, req.password, ctx);
        case "refresh_token":
          return refreshGrant(req.refreshToken, ctx);
        default:
          throw apiError("unsupported_grant_type", 'grant_type must be "password" or "refresh_token"');
      }
    },

    refresh: (req, ctx) => refreshGrant(req.refreshToken, ctx),

    async logout(req, ctx) {
      // The session is already revoked: logging out again changes nothing and succeeds.
      if (!ctx.values.get(principalKey) && ctx.values.get(revokedSessionKey)) return {};
      const principal = userPrincipalOf(ctx);
      const scope = req.scope === "" ? "local" : req.scope;
      if (!(logoutScopes as readonly string[]).includes(scope)) {
        throw apiError("validation_failed", `scope must be one of ${logoutScopes.join(", ")}`, { metadata: { field: "scope" } });
      }
      const revoked = await sessions.revoke(principal.id, principal.sessionId, scope as LogoutScope);
      cache.revoke(revoked);
      logger.info({ userId: principal.id, sessionId: principal.sessionId, scope, revoked: revoked.length }, "logged out");
      return {};
    },

    async getUser(_req, ctx) {
      const principal = ctx.values.get(principalKey);
      if (principal?.kind === "api_key") return apiKeyUserMessage(principal);
      // The session's state, which the bearer check has just loaded or found cached: no extra read.
      const { id, sessionId } = userPrincipalOf(ctx);
      const state = await cache.get(sessionId, () => sessions.state(sessionId, id));
      if (!state?.live) throw apiError("session_revoked");
      return userMessage(state.account);
    },
  };
}
