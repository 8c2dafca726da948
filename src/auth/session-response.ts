import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  SessionInfoSchema,
  SessionSchema,
  UserSchema,
  type Session,
  type SessionInfo,
  type User as UserMessage,
} from "../../gen/helios/auth/v1/auth_pb.js";
import type { User } from "../db/entities/user.js";
import { accountOf, type AccountFields } from "./account.js";
import type { SessionRecord } from "./session-store.js";
import type { SignedAccessToken } from "./tokens.js";

/** The fields of an account its owner may see (never its password hash), shared by every User message. */
export function userFields(account: AccountFields) {
  return {
    id: account.id,
    email: account.email,
    role: account.role,
    tenantId: account.tenantId,
    scopes: [...account.scopes],
    createdAt: timestampFromDate(account.createdAt),
    lastSignInAt: account.lastSignInAt ? timestampFromDate(account.lastSignInAt) : undefined,
    userMetadata: account.userMetadata,
    appMetadata: account.appMetadata,
  };
}

/** The `user` object of the API: what its owner may see of an account. */
export function userMessage(account: AccountFields): UserMessage {
  return create(UserSchema, userFields(account));
}

/** The answer of every sign-in path: `{access_token, token_type, expires_in, expires_at, refresh_token, user}`. */
export function sessionMessage(access: SignedAccessToken, refreshToken: string, user: User): Session {
  return create(SessionSchema, {
    accessToken: access.token,
    tokenType: "bearer",
    expiresIn: access.expiresIn,
    expiresAt: access.claims.exp,
    refreshToken,
    user: userMessage(accountOf(user)),
  });
}

/** The fields of a live session its user (or an administrator) may see: never its tokens. */
export function sessionFields(record: SessionRecord) {
  return {
    id: record.id,
    createdAt: timestampFromDate(record.createdAt),
    refreshedAt: record.refreshedAt ? timestampFromDate(record.refreshedAt) : undefined,
    userAgent: record.userAgent ?? "",
    ip: record.ip ?? "",
  };
}

/** A session in the caller's list; `current` when it is the calling token's. */
export function sessionInfoMessage(record: SessionRecord, currentSessionId: string): SessionInfo {
  return create(SessionInfoSchema, { ...sessionFields(record), current: record.id === currentSessionId });
}
