import { apiError } from "../errors/catalogue.js";
import type { Logger } from "../logging/logger.js";
import { createApiKeyCache, type ApiKeyCacheOptions, type CachedApiKey } from "./api-key-cache.js";
import { apiKeyIdOf, apiKeyMatches } from "./api-key-format.js";
import type { ApiKeyStore } from "./api-key-store.js";
import type { Principal } from "./principal.js";
import { userRole } from "./user-store.js";

/** Checks API keys; the credentials interceptor's `apiKey`. */
export interface ApiKeyVerifier {
  /** The principal of `key`; throws `invalid_api_key` when it is malformed, unknown, expired or revoked. */
  verify(key: string): Promise<Principal>;
  /** Takes key `id` out of service in this process at once, after it was revoked in storage. */
  revoked(id: string): void;
  /** Forgets what is cached about key `id` (it changed elsewhere), so its next use reads storage. */
  forget(id: string): void;
  /** Forgets every cached key (changes elsewhere may have been missed). */
  forgetAll(): void;
}

/** What {@link createApiKeyVerifier} is built from. */
export interface ApiKeyVerifierOptions {
  store: Pick<ApiKeyStore, "lookup" | "touch">;
  logger: Pick<Logger, "warn">;
  cache?: ApiKeyCacheOptions;
  /** Clock in milliseconds; default `Date.now`. */
  now?: () => number;
}

/**
 * Creates the API-key check: shape first (junk never reaches storage), then the stored state by the
 * key's public id through a short-lived cache, the hash compared in constant time, revocation and
 * expiry. The first use after the touch interval records `last_used_at` (one write a minute per key
 * at most, whatever the traffic).
 */
export function createApiKeyVerifier(options: ApiKeyVerifierOptions): ApiKeyVerifier {
  const { store, logger } = options;
  const now = options.now ?? Date.now;
  const cache = createApiKeyCache({ now, ...options.cache });

  const load = async (id: string): Promise<CachedApiKey | undefined> => {
    const found = await store.lookup(id);
    if (!found) return undefined;
    const { expiresInMs, ...rest } = found;
    return { ...rest, expiresAt: expiresInMs === null ? null : now() + expiresInMs };
  };

  return {
    async verify(key) {
      const id = apiKeyIdOf(key);
      if (id === undefined) throw apiError("invalid_api_key");
      const state = await cache.get(id, () => load(id));
      if (!state || !apiKeyMatches(key, state.hash) || state.revoked || (state.expiresAt !== null && now() >= state.expiresAt)) {
        throw apiError("invalid_api_key");
      }
      if (state.touchDue) {
        state.touchDue = false;
        await store.touch(id).catch((error: unknown) => {
          logger.warn({ keyId: id, error: error instanceof Error ? error.message : String(error) }, "could not record API key use");
        });
      }
      return { kind: "api_key", id, role: userRole, tenantId: state.tenantId, scopes: state.scopes };
    },

    revoked: (id) => cache.revoke(id),
    forget: (id) => cache.forget(id),
    forgetAll: () => cache.clear(),
  };
}
