import { createContextKey, type HandlerContext } from "@connectrpc/connect";
import { apiError } from "../errors/catalogue.js";

/** What a credential may do. `signup` is held only by publishable keys. */
export type Scope = "read" | "write" | "admin" | "signup";

/** Every scope, in order of power. */
export const allScopes: readonly Scope[] = ["read", "write", "admin", "signup"];

/** The authenticated caller of one request, from a Bearer token or an API key. */
export interface Principal {
  kind: "user" | "api_key";
  /** User id, or API key id. */
  id: string;
  /** Users only. */
  email?: string;
  /** Database-facing role name, "authenticated" for users and keys alike. */
  role: string;
  tenantId: string;
  scopes: readonly Scope[];
  /** The session a user token belongs to. */
  sessionId?: string;
}

/** Whether `scopes` are those of a publishable key: `signup` alone, which grants nothing else. */
export function isPublishable(scopes: readonly Scope[]): boolean {
  return scopes.length > 0 && scopes.every((scope) => scope === "signup");
}

/** Context value holding the request's principal; set by the credentials interceptor. */
export const principalKey = createContextKey<Principal | undefined>(undefined, {
  description: "authenticated principal",
});

/**
 * Context value holding the publishable (sign-up) key a call presented, if any. It is the principal
 * too when nothing else was presented; beside a user's token it only tells sign-up the tenant.
 */
export const publishableKeyKey = createContextKey<Principal | undefined>(undefined, {
  description: "publishable key presented with the call",
});

/**
 * Context value set when a call presented the access token of an already revoked session to a method
 * that accepts such a caller (logout, so that it stays idempotent); the principal is then unset.
 */
export const revokedSessionKey = createContextKey<boolean>(false, {
  description: "caller presented a token of a revoked session",
});

/** The principal of a call, or an `unauthorized` error when the call carried no credentials. */
export function principalOf(context: HandlerContext): Principal {
  const principal = context.values.get(principalKey);
  if (!principal) throw apiError("unauthorized");
  return principal;
}
