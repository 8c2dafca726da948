import { createHmac } from "node:crypto";
import { queryRoles } from "./query-roles.js";

/**
 * The password of `helios_authenticator`, derived from the JWT signing secret. The role is
 * cluster-wide, so every instance sharing a PostgreSQL must agree on its password without
 * coordinating: they already share the signing secret, and the HMAC reveals nothing about it.
 */
export function deriveAuthenticatorPassword(jwtSecret: string): string {
  return createHmac("sha256", jwtSecret).update("helios_authenticator password v1").digest("base64url");
}

/** The owner's connection URL with the authenticator's credentials instead. */
export function authenticatorUrl(ownerUrl: string, password: string): string {
  const url = new URL(ownerUrl);
  url.username = queryRoles.authenticator;
  url.password = password;
  return url.toString();
}
