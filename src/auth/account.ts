import type { JsonObject } from "@bufbuild/protobuf";
import type { User } from "../db/entities/user.js";
import type { Scope } from "./principal.js";

/** What a user may see of their account (never its password hash): the fields of every User message. */
export interface AccountFields {
  id: string;
  email: string;
  role: string;
  tenantId: string;
  scopes: readonly Scope[];
  createdAt: Date;
  lastSignInAt: Date | null;
  userMetadata: JsonObject;
  appMetadata: JsonObject;
}

/** The {@link AccountFields} of a stored user. */
export function accountOf(user: User): AccountFields {
  const { id, email, role, scopes, createdAt, lastSignInAt, userMetadata, appMetadata } = user;
  return { id, email, role, tenantId: user.tenant.id, scopes, createdAt, lastSignInAt, userMetadata, appMetadata };
}
