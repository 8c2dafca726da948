import { create } from "@bufbuild/protobuf";
import { timestampFromDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import {
  ApiKeySchema,
  TenantSchema,
  UserChangeSchema,
  UserSchema,
  UserSessionSchema,
  type ApiKey as ApiKeyMessage,
  type Tenant as TenantMessage,
  type User as UserMessage,
  type UserChange,
  type UserSession,
} from "../../gen/helios/admin/v1/admin_pb.js";
import { apiKeyDisplayPrefix } from "../auth/api-key-format.js";
import { accountOf } from "../auth/account.js";
import { sessionFields, userFields } from "../auth/session-response.js";
import type { SessionRecord } from "../auth/session-store.js";
import type { ApiKey } from "../db/entities/api-key.js";
import type { Tenant } from "../db/entities/tenant.js";
import type { User } from "../db/entities/user.js";
import type { UserChangeResult } from "./user-admin.js";

const timestamp = (date: Date | null): Timestamp | undefined => (date ? timestampFromDate(date) : undefined);

/** An API key as administrators see it: everything but its hash. */
export function apiKeyMessage(key: ApiKey): ApiKeyMessage {
  return create(ApiKeySchema, {
    id: key.id,
    prefix: apiKeyDisplayPrefix(key.id),
    name: key.name,
    tenantId: key.tenant.id,
    scopes: [...key.scopes],
    createdAt: timestamp(key.createdAt),
    expiresAt: timestamp(key.expiresAt),
    lastUsedAt: timestamp(key.lastUsedAt),
    revokedAt: timestamp(key.revokedAt),
    createdBy: key.createdBy,
  });
}

/** A tenant message. */
export function tenantMessage(tenant: Tenant): TenantMessage {
  return create(TenantSchema, { id: tenant.id, name: tenant.name, createdAt: timestamp(tenant.createdAt) });
}

/** A user as administrators see it: everything but its password hash; a ban only while it lasts. */
export function adminUserMessage(user: User): UserMessage {
  const banned = user.bannedUntil !== null && user.bannedUntil.getTime() > Date.now();
  return create(UserSchema, { ...userFields(accountOf(user)), bannedUntil: banned ? timestamp(user.bannedUntil) : undefined });
}

/** The answer of every user-changing RPC. */
export function userChangeMessage(result: UserChangeResult): UserChange {
  return create(UserChangeSchema, { user: adminUserMessage(result.user), revokedSessions: result.revokedSessions });
}

/** A live session of a user, as administrators see it: never its tokens. */
export function userSessionMessage(record: SessionRecord): UserSession {
  return create(UserSessionSchema, sessionFields(record));
}
