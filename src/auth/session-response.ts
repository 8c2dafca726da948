import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { SessionSchema, UserSchema, type Session, type User as UserMessage } from "../../gen/helios/auth/v1/auth_pb.js";
import type { User } from "../db/entities/user.js";
import type { SignedAccessToken } from "./tokens.js";

/** The fields of an account its owner may see (never its password hash), shared by every User message. */
export function userFields(user: User) {
  return {
    id: user.id,
    email: user.email,
    role: user.role,
    tenantId: user.tenant.id,
    scopes: [...user.scopes],
    createdAt: timestampFromDate(user.createdAt),
    lastSignInAt: user.lastSignInAt ? timestampFromDate(user.lastSignInAt) : undefined,
  };
}

/** The `user` object of the API: what its owner may see of an account. */
export function userMessage(user: User): UserMessage {
  return create(UserSchema, userFields(user));
}

/** The answer of every sign-in path: `{access_token, token_type, expires_in, expires_at, refresh_token, user}`. */
export function sessionMessage(access: SignedAccessToken, refreshToken: string, user: User): Session {
  return create(SessionSchema, {
    accessToken: access.token,
    tokenType: "bearer",
    expiresIn: access.expiresIn,
    expiresAt: access.claims.exp,
    refreshToken,
    user: userMessage(user),
  });
}
