import { apiError } from "../errors/catalogue.js";
import { allScopes, type Scope } from "../auth/principal.js";

/** Scopes a user may hold; `signup` belongs to publishable keys only. */
export const userScopes: readonly Scope[] = ["read", "write", "admin"];

const isScope = (value: string): value is Scope => (allScopes as readonly string[]).includes(value);

/** `values` as scopes in canonical order without repeats; `validation_failed` on an unknown one. */
function parseScopes(values: readonly string[], allowed: readonly Scope[], field: string): Scope[] {
  for (const value of values) {
    if (!isScope(value) || !allowed.includes(value)) {
      throw apiError("validation_failed", `${field} must be among ${allowed.join(", ")}; got "${value}"`, { metadata: { field } });
    }
  }
  return allScopes.filter((scope) => values.includes(scope));
}

/** The scopes of a user (`read`, `write`, `admin`), possibly none. */
export function parseUserScopes(values: readonly string[], options: { required: boolean }): Scope[] {
  const scopes = parseScopes(values, userScopes, "scopes");
  if (options.required && scopes.length === 0) {
    throw apiError("validation_failed", "scopes must name at least one scope", { metadata: { field: "scopes" } });
  }
  return scopes;
}

/**
 * The scopes of an API key: at least one of `read`, `write`, `admin`; or `signup` alone, a
 * publishable key, which sits in front ends and so must never grant anything else.
 */
export function parseKeyScopes(values: readonly string[]): Scope[] {
  const scopes = parseScopes(values, allScopes, "scopes");
  if (scopes.length === 0) {
    throw apiError("validation_failed", "scopes must name at least one of read, write, admin, signup", { metadata: { field: "scopes" } });
  }
  if (scopes.includes("signup") && scopes.length > 1) {
    throw apiError("validation_failed", "signup (a publishable key) cannot be combined with other scopes", {
      metadata: { field: "scopes" },
    });
  }
  return scopes;
}
