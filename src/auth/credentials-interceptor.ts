import type { DescMethod } from "@bufbuild/protobuf";
import { ConnectError, type Interceptor } from "@connectrpc/connect";
import { apiError, reasonOf } from "../errors/catalogue.js";
import { principalKey, revokedSessionKey, type Principal } from "./principal.js";

/** Turns presented credentials into principals; each throws the catalogue error of a bad credential. */
export interface CredentialVerifier {
  bearer(token: string): Promise<Principal>;
  apiKey(key: string): Promise<Principal>;
}

/** The credentials a request presented, from headers or the `apikey` query parameter. */
export interface PresentedCredentials {
  bearer?: string;
  apiKey?: string;
  /** True when the key came from the URL (deprecated: URLs end up in logs and histories). */
  apiKeyInQuery: boolean;
}

/** Reads `Authorization: Bearer`, `X-API-Key`, `apikey` (header) and `?apikey=` identically on every protocol. */
export function presentedCredentials(header: Headers, url: string): PresentedCredentials {
  const result: PresentedCredentials = { apiKeyInQuery: false };
  const authorization = header.get("authorization");
  if (authorization !== null) {
    const match = /^bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match?.[1]) throw apiError("invalid_token", "Authorization header must be `Bearer <token>`");
    result.bearer = match[1];
  }
  const headerKey = header.get("x-api-key") ?? header.get("apikey");
  if (headerKey !== null && headerKey !== "") {
    result.apiKey = headerKey;
  } else {
    const queryKey = new URL(url, "http://localhost").searchParams.get("apikey");
    if (queryKey !== null && queryKey !== "") {
      result.apiKey = queryKey;
      result.apiKeyInQuery = true;
    }
  }
  return result;
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

/**
 * Authenticates every call: verifies whatever credentials were presented, puts the principal into
 * the context values, and refuses calls without credentials unless the method is public (sign-up,
 * sign-in, refresh). A bad credential fails the call, with two exceptions for bearers that were
 * genuine once: public methods ignore an expired or revoked one (clients often still attach the old
 * token when they refresh or sign in again, which is precisely when it has expired), and
 * `revokedSessionMethods` accept a revoked one with {@link revokedSessionKey} set.
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
    const [fromToken, fromKey] = await Promise.all([
      presented.bearer === undefined ? undefined : bearer(presented.bearer),
      presented.apiKey === undefined ? undefined : verifier.apiKey(presented.apiKey),
    ]);
    if (fromToken && fromKey && (fromToken.tenantId !== fromKey.tenantId || !samePrincipal(fromToken, fromKey))) {
      throw apiError("ambiguous_credentials");
    }
    const principal = fromToken ?? fromKey;
    const revoked = req.contextValues.get(revokedSessionKey);
    if (!principal && !revoked && !publicMethods.has(req.method)) throw apiError("unauthorized");
    req.contextValues.set(principalKey, principal);
    const response = await next(req);
    if (presented.apiKeyInQuery) {
      response.header.set("deprecation", "true");
      response.header.set("warning", '299 - "The apikey query parameter is deprecated; send the X-API-Key header"');
    }
    return response;
  };
}

/**
 * A Bearer token and an API key name the same principal only when the key is a publishable
 * (sign-up) key of the token's tenant: the key then adds nothing the token does not already carry.
 */
function samePrincipal(token: Principal, key: Principal): boolean {
  return key.scopes.every((scope) => scope === "signup");
}
