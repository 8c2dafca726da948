import { create, type JsonObject } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { MikroORM } from "@mikro-orm/postgresql";
import {
  JwksSchema,
  ListSessionsResponseSchema,
  UserSchema,
  type AuthService,
  type Session,
  type UpdateUserRequest,
  type User as UserMessage,
} from "../../gen/helios/auth/v1/auth_pb.js";
import type { AuthConfig } from "../config/config.js";
import type { User } from "../db/entities/user.js";
import { apiError } from "../errors/catalogue.js";
import type { Logger } from "../logging/logger.js";
import { clientAddressKey } from "../server/request-context.js";
import { accountOf } from "./account.js";
import type { AuthRateLimits } from "./auth-rate-limits.js";
import { normalizeEmail } from "./email.js";
import { assertPasswordPolicy, maxPasswordBytes } from "./password-policy.js";
import type { PasswordHasher } from "./passwords.js";
import { isPublishable, principalKey, publishableKeyKey, revokedSessionKey, type Principal } from "./principal.js";
import { isWellFormedRefreshToken } from "./refresh-tokens.js";
import type { SessionCache } from "./session-cache.js";
import { sessionInfoMessage, sessionMessage, userMessage } from "./session-response.js";
import type { LogoutScope, SessionClient, SessionStore } from "./session-store.js";
import type { TokenIssuer } from "./tokens.js";
import { assertMetadataSize, mergeUserMetadata } from "./user-metadata.js";
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

// Ids of our sessions; anything else names none, so it never reaches the database.
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** How long browsers and other verifiers may keep the JWKS: new keys appear only at a restart. */
export const jwksCacheControl = "public, max-age=300, stale-while-revalidate=60";

/** Where a call comes from, as recorded with the session it starts. */
function clientOf(ctx: HandlerContext): SessionClient {
  return { userAgent: ctx.requestHeader.get("user-agent") ?? undefined, ip: ctx.values.get(clientAddressKey) };
}

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
      userMetadata: user.userMetadata,
      appMetadata: user.appMetadata,
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

  /**
   * Creates an account and its first session. An address that is taken answers
   * `user_already_exists`, and so does one that looks like a taken one (the same UTS #39 skeleton,
   * `./email-skeleton.ts`: Cyrillic `ѕорһіе@acme.com` beside `sophie@acme.com`, `rn` beside `m`),
   * by the same check before hashing and the same unique-index race, so the two cannot be told
   * apart. Sign-up already says whether an address is registered, so refusing a look-alike that
   * way adds nothing an enumerator could not learn by asking for the original; `validation_failed`
   * (a look-alike of nothing signs up, so it would mean "a look-alike exists" too) would only say so
   * in other words while misleading honest users about their input.
   */
  async function signUp(rawEmail: string, password: string, data: JsonObject | undefined, ctx: HandlerContext): Promise<Session> {
    const tenantId = signUpTenant(ctx);
    await limits.signUp(ctx.values.get(clientAddressKey));
    const email = normalizeEmail(rawEmail);
    assertPasswordPolicy(password);
    const userMetadata = assertMetadataSize(data ?? {}, "data");
    // Spares an argon2 hash for the common case; the unique indexes decide races.
    if (await users.isTaken(email)) throw apiError("user_already_exists");
    const passwordHash = await hasher.hash(password);
    let created: { user: User; sessionId: string; refreshToken: string };
    try {
      created = await orm.em.fork().transactional(async (em) => {
        const user = await users.create(em, { email, passwordHash, tenantId, userMetadata });
        return { user, ...(await sessions.create(em, user.id, clientOf(ctx))) };
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
    const signedInAt = new Date();
    const session = await sessions.startAfterSignIn(user.id, user.passwordHash, signedInAt, clientOf(ctx), newHash);
    if (!session) {
      // Since the lookup: banned, deleted, or the password verified is no longer the account's.
      const now = await users.findById(user.id);
      throw apiError(now && isBanned(now) ? "user_banned" : "invalid_credentials");
    }
    Object.assign(user, newHash === undefined ? { lastSignInAt: signedInAt } : { lastSignInAt: signedInAt, passwordHash: newHash, updatedAt: signedInAt });
    // Cached states of the user's other sessions hold the previous last_sign_in_at.
    cache.recordSignIn(user.id, signedInAt);
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

  /** The caller's session state, as the bearer check has just loaded it or found it cached. */
  async function liveState(principal: Principal & { sessionId: string }) {
    const state = await cache.get(principal.sessionId, () => sessions.state(principal.sessionId, principal.id));
    if (!state?.live) throw apiError("session_revoked");
    return state;
  }

  /**
   * Lets a password change go ahead: the current password, when given, must be right (every check
   * counts against the sign-in budgets of the client and the account, as a sign-in does); without
   * it, the session must have signed in within the reauthentication window.
   */
  async function reauthenticate(principal: Principal & { sessionId: string }, currentPassword: string, ctx: HandlerContext): Promise<void> {
    if (currentPassword === "") {
      const { signedInAt } = await liveState(principal);
      if (Date.now() - signedInAt.getTime() < config.reauthWindowSeconds * 1000) return;
      throw apiError("current_password_required", undefined, { metadata: { field: "current_password" } });
    }
    await limits.signIn(ctx.values.get(clientAddressKey), principal.email);
    const user = await users.findById(principal.id);
    if (!user) throw apiError("session_revoked");
    const ok = Buffer.byteLength(currentPassword, "utf8") <= maxPasswordBytes && (await hasher.verify(user.passwordHash, currentPassword)).ok;
    if (!ok) {
      logger.info({ userId: principal.id, sessionId: principal.sessionId }, "password change refused: wrong current password");
      throw apiError("current_password_mismatch", undefined, { metadata: { field: "current_password" } });
    }
  }

  async function updateUser(req: UpdateUserRequest, ctx: HandlerContext): Promise<UserMessage> {
    const principal = userPrincipalOf(ctx);
    if (req.password === "" && req.currentPassword !== "") {
      throw apiError("validation_failed", "current_password is taken only with a new password", { metadata: { field: "current_password" } });
    }
    const data = req.data === undefined ? undefined : assertMetadataSize(req.data, "data");
    let passwordHash: string | undefined;
    if (req.password !== "") {
      assertPasswordPolicy(req.password);
      await reauthenticate(principal, req.currentPassword, ctx);
      passwordHash = await hasher.hash(req.password);
    }
    if (passwordHash === undefined && data === undefined) return userMessage((await liveState(principal)).account);
    let ended: string[] = [];
    const updated = await users.update(
      principal.id,
      (current) => ({ passwordHash, userMetadata: data === undefined ? undefined : mergeUserMetadata(current.userMetadata, data) }),
      // Whoever else holds a session may hold it because they knew the old password. In the same
      // transaction: a new password never stands beside the sessions it was meant to end.
      async (em) => {
        if (passwordHash !== undefined) ended = await sessions.revoke(principal.id, principal.sessionId, "others", em);
      },
    );
    if (!updated) throw apiError("session_revoked");
    // Cached states hold the previous metadata; other instances hear of it from the database.
    cache.forgetUser(principal.id);
    cache.revoke(ended);
    logger.info(
      { userId: principal.id, sessionId: principal.sessionId, password: passwordHash !== undefined, metadata: data !== undefined, revoked: ended.length },
      "user updated",
    );
    return userMessage(accountOf(updated.user));
  }

  return {
    signUp: (req, ctx) => signUp(req.email, req.password, req.data, ctx),

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
      return userMessage((await liveState(userPrincipalOf(ctx))).account);
    },

    updateUser,

    async listSessions(_req, ctx) {
      const principal = userPrincipalOf(ctx);
      const records = await sessions.list(principal.id);
      return create(ListSessionsResponseSchema, { sessions: records.map((record) => sessionInfoMessage(record, principal.sessionId)) });
    },

    async endSession(req, ctx) {
      const principal = userPrincipalOf(ctx);
      if (!uuidPattern.test(req.id)) throw apiError("session_not_found");
      const revoked = await sessions.revoke(principal.id, req.id, "local");
      if (revoked.length === 0) throw apiError("session_not_found");
      cache.revoke(revoked);
      logger.info({ userId: principal.id, sessionId: principal.sessionId, ended: req.id }, "session ended");
      return {};
    },

    getJwks(_req, ctx) {
      ctx.responseHeader.set("cache-control", jwksCacheControl);
      return create(JwksSchema, { keys: issuer.publicKeys() });
    },
  };
}
