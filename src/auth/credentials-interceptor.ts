import type { DescMethod } from "@bufbuild/protobuf";
import { ConnectError, type Interceptor } from "@connectrpc/connect";
import { apiError, reasonOf, type Reason } from "../errors/catalogue.js";
import { looksLikeApiKey } from "./api-key-format.js";
import { isPublishable, principalKey, publishableKeyKey, revokedSessionKey, type Principal } from "./principal.js";

/** Turns presented credentials into principals; each throws the catalogue error of a bad credential. */
export interface CredentialVerifier {
  bearer(token: string): Promise<Principal>;
  apiKey(key: string): Promise<Principal>;
}

/** The credentials a request presented, from headers or the `apikey` query parameter. */
export interface PresentedCredentials {
  /** An access token (JWT) from `Authorization: Bearer`. */
  bearer?: string;
  /**
   * Distinct API keys from `X-API-Key`, the `apikey` header, `?apikey=` and `Authorization: Bearer
   * hdb_…` (what supabase-js sends: the same key as bearer and as `apikey`).
   */
  apiKeys: string[];
  /** True when a key came from the URL (deprecated: URLs end up in logs and histories). */
  apiKeyInQuery: boolean;
}

/** Reads `Authorization: Bearer`, `X-API-Key`, `apikey` (header) and `?apikey=` identically on every protocol. */
export function presentedCredentials(header: Headers, url: string): PresentedCredentials {
  const keys = new Set<string>();
  let bearer: string | undefined;
  const authorization = header.get("authorization");
  if (authorization !== null) {
    const match = /^bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match?.[1]) throw apiError("invalid_token", "Authorization header must be `Bearer <token>`");
    if (looksLikeApiKey(match[1])) keys.add(match[1]);
    else bearer = match[1];
  }
  for (const name of ["x-api-key", "apikey"]) {
    const value = header.get(name);
    if (value !== null && value !== "") keys.add(value);
  }
  const queryKey = url.includes("apikey=") ? new URL(url, "http://localhost").searchParams.get("apikey") : null;
  const apiKeyInQuery = queryKey !== null && queryKey !== "";
  if (apiKeyInQuery) keys.add(queryKey);
  return { bearer, apiKeys: [...keys], apiKeyInQuery };
}

/** Options of {@link createCredentialsInterceptor}. */
export interface CredentialsInterceptorOptions {
  verifier: CredentialVerifier;
  /** Methods callable without credentials (sign-up, sign-in, refresh). */
  publicMethods: ReadonlySet<DescMethod>;
  /**
   * Methods that accept the access token of a revoked session, as a caller without a principal but
   * with {@link revokedSessionKey} set (logout: repeating it must succeed). Default none.
   */
  revokedSessionMethods?: ReadonlySet<DescMethod>;
}

/** Reasons of a bearer that was genuine once: the token of a session that expired or was revoked. */
const staleBearerReasons: ReadonlySet<string> = new Set(["token_expired", "session_revoked"]);

/** The headers of every answer to a request that carried its key in the URL. */
const deprecationHeaders: ReadonlyArray<[string, string]> = [
  ["deprecation", "true"],
  ["warning", '299 - "The apikey query parameter is deprecated; send the X-API-Key header"'],
];

/**
 * The reasons {@link createCredentialsInterceptor} (with the bearer and key verifiers) answers:
 * `any` on every method, `authenticated` on methods that need credentials.
 */
export const credentialReasons = {
  any: ["invalid_api_key", "ambiguous_credentials"],
  authenticated: ["unauthorized", "invalid_token", "token_expired", "session_revoked", "user_banned"],
} as const satisfies Record<string, readonly Reason[]>;

/**
 * Authenticates every call: verifies whatever credentials were presented, puts the principal into
 * the context values, and refuses calls without credentials unless the method is public (sign-up,
 * sign-in, refresh). A bad credential fails the call, with two exceptions for bearers that were
 * genuine once: public methods ignore an expired or revoked one (clients often still attach the old
 * token when they refresh or sign in again, which is precisely when it has expired), and
 * `revokedSessionMethods` accept a revoked one with {@link revokedSessionKey} set.
 *
 * Credentials of two principals (a token and a key, or two keys) are `ambiguous_credentials`, except
 * a publishable key: it grants nothing but sign-up, so beside a token (supabase-js always sends both)
 * it is no rival; it is recorded as {@link publishableKeyKey} and is the principal only when no token
 * was presented. Beside a secret key it is ambiguous: a sign-up could go to either key's tenant. Answers to calls with `?apikey=` carry a deprecation warning, errors included.
 */
export function createCredentialsInterceptor(options: CredentialsInterceptorOptions): Interceptor {
  const { verifier, publicMethods } = options;
  const revokedSessionMethods = options.revokedSessionMethods ?? new Set<DescMethod>();
  return (next) => async (req) => {
    const presented = presentedCredentials(req.header, req.url);
    const bearer = async (token: string): Promise<Principal | undefined> => {
      try {
        return await verifier.bearer(token);
      } catch (error) {
        const reason = error instanceof ConnectError ? reasonOf(error) : undefined;
        if (reason === "session_revoked" && revokedSessionMethods.has(req.method)) {
          req.contextValues.set(revokedSessionKey, true);
          return undefined;
        }
        if (reason !== undefined && staleBearerReasons.has(reason) && publicMethods.has(req.method)) return undefined;
        throw error;
      }
    };
    try {
      // Both checks run at once when both were presented (supabase-js sends a key beside the token).
      const [fromToken, fromKeys] =
        presented.apiKeys.length === 0
          ? [presented.bearer === undefined ? undefined : await bearer(presented.bearer), []]
          : await Promise.all([
              presented.bearer === undefined ? undefined : bearer(presented.bearer),
              Promise.all(presented.apiKeys.map((key) => verifier.apiKey(key))),
            ]);
      const publishable = fromKeys.filter((key) => isPublishable(key.scopes));
      const secretKeys = fromKeys.filter((key) => !isPublishable(key.scopes));
      const acting = [...(fromToken ? [fromToken] : []), ...secretKeys];
      if (acting.length > 1 || publishable.length > 1 || (publishable.length > 0 && secretKeys.length > 0)) {
        throw apiError("ambiguous_credentials");
      }
      const principal = acting[0] ?? (presented.bearer === undefined ? publishable[0] : undefined);
      const revoked = req.contextValues.get(revokedSessionKey);
      if (!principal && !revoked && !publicMethods.has(req.method)) throw apiError("unauthorized");
      req.contextValues.set(principalKey, principal);
      req.contextValues.set(publishableKeyKey, publishable[0]);
      const response = await next(req);
      if (presented.apiKeyInQuery) for (const [name, value] of deprecationHeaders) response.header.set(name, value);
      return response;
    } catch (error) {
      if (presented.apiKeyInQuery && error instanceof ConnectError) {
        for (const [name, value] of deprecationHeaders) error.metadata.set(name, value);
      }
      throw error;
    }
  };
}
