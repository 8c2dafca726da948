import type { DescMethod } from "@bufbuild/protobuf";
import type { Reason } from "../errors/catalogue.js";
import type { MikroORM } from "@mikro-orm/postgresql";
import { AuthService } from "../../gen/helios/auth/v1/auth_pb.js";
import type { AuthConfig } from "../config/config.js";
import type { Logger } from "../logging/logger.js";
import type { ServiceModule } from "../server/request-handler.js";
import type { ApiKeyCacheOptions } from "./api-key-cache.js";
import { createApiKeyStore, type ApiKeyStore } from "./api-key-store.js";
import { createApiKeyVerifier, type ApiKeyVerifier } from "./api-key-verifier.js";
import {
  instrumentApiKeyStore,
  instrumentPasswordHasher,
  instrumentRateLimiter,
  instrumentSessionStore,
  instrumentUserStore,
  silentAuthEvents,
  type AuthEvents,
} from "./auth-metrics.js";
import { createAuthRateLimits } from "./auth-rate-limits.js";
import { createAuthServiceImpl } from "./auth-service.js";
import { createBearerVerifier } from "./bearer-verifier.js";
import type { CredentialVerifier } from "./credentials-interceptor.js";
import type { InvalidationTargets } from "./invalidation-bus.js";
import { defaultPasswordHasher, type PasswordHasher } from "./passwords.js";
import { createMemoryRateLimiter, type RateLimiter } from "./rate-limiter.js";
import { createSessionCache, type SessionCache, type SessionCacheOptions } from "./session-cache.js";
import { createSessionStore, type SessionStore } from "./session-store.js";
import type { AsymmetricKeyRing } from "./signing-keys.js";
import { createTokenIssuer } from "./tokens.js";
import { createUserStore, type UserStore } from "./user-store.js";

/** What {@link createAuthModule} is built from. */
export interface AuthModuleDeps {
  config: AuthConfig;
  /** The resolved signing secret (configured, or generated in embedded mode). */
  jwtSecret: string;
  /** The key pairs of ES256/RS256 signing (see `../config/jwt-keys.ts`); unset under HS256. */
  keyRing?: AsymmetricKeyRing;
  orm: MikroORM;
  logger: Logger;
  /** Default: the process-wide argon2id hasher. */
  hasher?: PasswordHasher;
  /** Default: a new in-memory limiter. */
  rateLimiter?: RateLimiter;
  /** Bounds of the session-state cache of the bearer check. */
  sessionCache?: SessionCacheOptions;
  /** Bounds of the key-state cache of the API-key check. */
  apiKeyCache?: ApiKeyCacheOptions;
  /** Told about sign-ups, sign-ins, refreshes, revocations and rate-limit hits (metrics). */
  events?: AuthEvents;
}

/**
 * The account stores and caches, shared with administration: a change made through these takes
 * effect in this process at once (the caches are told), and in other instances as it commits (the
 * database publishes it to their invalidation bus) or at the latest within the caches' bounds.
 */
export interface Accounts {
  users: UserStore;
  sessions: SessionStore;
  sessionCache: SessionCache;
  apiKeys: ApiKeyStore;
  apiKeyVerifier: ApiKeyVerifier;
  /** Hashes passwords an administrator sets. */
  hasher: PasswordHasher;
}

/** AuthService, plus what the credentials interceptor needs to authenticate every other service. */
export interface AuthModule extends ServiceModule {
  /** Checks Bearer tokens and API keys. */
  verifier: CredentialVerifier;
  accounts: Accounts;
  /** Callable without credentials: SignUp, Token, Refresh, GetJwks. */
  publicMethods: ReadonlySet<DescMethod>;
  /** Callable with the token of a revoked session, as a no-op: Logout. */
  revokedSessionMethods: ReadonlySet<DescMethod>;
  /** The caches, for the invalidation bus to keep in step with changes made elsewhere. */
  invalidation: InvalidationTargets;
}

/**
 * Builds the auth service: makes sure the default tenant exists, computes the dummy password hash
 * (so the first unknown-email sign-in is not faster), and wires stores, token issuer, session and
 * API-key checks and rate limits together.
 */
export async function createAuthModule(deps: AuthModuleDeps): Promise<AuthModule> {
  const { config, jwtSecret, orm } = deps;
  const logger = deps.logger.child({ component: "auth" });
  const issuer = createTokenIssuer({ ...config, jwtSecret, keyRing: deps.keyRing }, { clockSkewSeconds: config.clockSkewSeconds });
  const events = deps.events ?? silentAuthEvents;
  const hasher = instrumentPasswordHasher(deps.hasher ?? defaultPasswordHasher(config.hashQueue), events);
  const users = instrumentUserStore(createUserStore(orm), events);
  const sessions = instrumentSessionStore(
    createSessionStore({
      orm,
      refreshTokenExpirySeconds: config.refreshTokenExpirySeconds,
      refreshGraceSeconds: config.refreshGraceSeconds,
      childSecret: jwtSecret,
      previousChildSecrets: config.jwtPreviousSecrets,
    }),
    events,
  );
  const cache = createSessionCache(deps.sessionCache);
  const apiKeys = instrumentApiKeyStore(createApiKeyStore(orm), events);
  const apiKeyVerifier = createApiKeyVerifier({ store: apiKeys, logger, cache: deps.apiKeyCache });
  const limiter = instrumentRateLimiter(deps.rateLimiter ?? createMemoryRateLimiter(), events);
  const limits = createAuthRateLimits(config.rateLimit, limiter, events);
  await Promise.all([users.ensureTenant(config.defaultTenant), hasher.warmUp()]);

  const impl = createAuthServiceImpl({ config, orm, issuer, hasher, users, sessions, cache, limits, logger });
  const methods = AuthService.method;
  return {
    services: [AuthService],
    register: (router) => router.service(AuthService, impl),
    verifier: {
      bearer: createBearerVerifier({ issuer, sessions, cache }),
      apiKey: (key) => apiKeyVerifier.verify(key),
    },
    accounts: { users, sessions, sessionCache: cache, apiKeys, apiKeyVerifier, hasher },
    publicMethods: new Set([methods.signUp, methods.token, methods.refresh, methods.getJwks]),
    // The guide's refresh is POST /auth/v1/token?grant_type=refresh_token.
    queryParameters: new Map([[methods.token, ["grant_type"]]]),
    // server_busy: the password hash queue (passwords.ts) is full or its wait ran out.
    errorReasons: new Map<DescMethod, readonly Reason[]>([
      [methods.signUp, ["validation_failed", "weak_password", "user_already_exists", "signup_disabled", "insufficient_scope", "over_request_rate_limit", "server_busy"]],
      [
        methods.token,
        [
          "validation_failed",
          "unsupported_grant_type",
          "invalid_credentials",
          "user_banned",
          "invalid_refresh_token",
          "refresh_token_reused",
          "over_request_rate_limit",
          "server_busy",
        ],
      ],
      [methods.refresh, ["validation_failed", "invalid_refresh_token", "refresh_token_reused", "user_banned", "over_request_rate_limit"]],
      [methods.logout, ["validation_failed", "insufficient_scope"]],
      [methods.getUser, ["insufficient_scope"]],
      [
        methods.updateUser,
        ["validation_failed", "weak_password", "current_password_required", "current_password_mismatch", "insufficient_scope", "over_request_rate_limit", "server_busy"],
      ],
      [methods.listSessions, ["insufficient_scope"]],
      [methods.endSession, ["insufficient_scope", "session_not_found"]],
      [methods.getJwks, []],
    ]),
    revokedSessionMethods: new Set([methods.logout]),
    invalidation: {
      forgetSession: (sessionId) => cache.forget([sessionId]),
      forgetUser: (userId) => cache.forgetUser(userId),
      forgetApiKey: (keyId) => apiKeyVerifier.forget(keyId),
      forgetAll() {
        cache.clear();
        apiKeyVerifier.forgetAll();
      },
    },
  };
}
