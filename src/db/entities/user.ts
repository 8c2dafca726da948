import { EntitySchema } from "@mikro-orm/core";
import type { JsonObject } from "@bufbuild/protobuf";
import type { Scope } from "../../auth/principal.js";
import { TenantEntity, type Tenant } from "./tenant.js";

/** An account that signs in with an email and a password. */
export interface User {
  id: string;
  /** Normalised by `normalizeEmail` (trimmed, NFKC, lower-case, IDNA-mapped domain); unique through the index on `lower(email)`. */
  email: string;
  /**
   * UTS #39 confusable skeleton of `email` (`../../auth/email-skeleton.ts`), set when the user is
   * created; unique, so no second account has a look-alike address. Null only for rows that were
   * not made by the service (or that looked like an older account when migration 0007 filled it).
   */
  emailSkeleton: string | null;
  tenant: Tenant;
  scopes: Scope[];
  /** Database-facing role, `authenticated` for every user. */
  role: string;
  /** argon2id PHC string. */
  passwordHash: string;
  /** Sign-ins, refreshes and tokens are refused until this time. */
  bannedUntil: Date | null;
  createdAt: Date;
  updatedAt: Date;
  lastSignInAt: Date | null;
  /** The user's own JSON object (`user_metadata`), set at sign-up and by UpdateUser. */
  userMetadata: JsonObject;
  /** Administrators' JSON object about the user (`app_metadata`); read-only for the user. */
  appMetadata: JsonObject;
}

/** `auth.users`. */
export const UserEntity = new EntitySchema<User>({
  name: "User",
  schema: "auth",
  tableName: "users",
  indexes: [{ name: "users_tenant_id_index", properties: ["tenant"] }],
  uniques: [{ name: "users_email_key", expression: "create unique index users_email_key on auth.users (lower(email))" }],
  checks: [
    { name: "users_scopes_check", expression: "scopes <@ array['read','write','admin']::text[]" },
    { name: "users_user_metadata_check", expression: "jsonb_typeof(user_metadata) = 'object' and octet_length(user_metadata::text) <= 4096" },
    { name: "users_app_metadata_check", expression: "jsonb_typeof(app_metadata) = 'object' and octet_length(app_metadata::text) <= 4096" },
  ],
  properties: {
    id: { type: "uuid", primary: true },
    email: { type: "text" },
    emailSkeleton: { type: "text", nullable: true, unique: "users_email_skeleton_key" },
    tenant: { kind: "m:1", entity: () => TenantEntity, deleteRule: "restrict", updateRule: "cascade" },
    scopes: { type: "text[]", defaultRaw: "'{read,write}'" },
    role: { type: "text", defaultRaw: "'authenticated'" },
    passwordHash: { type: "text" },
    bannedUntil: { type: "datetime", nullable: true },
    createdAt: { type: "datetime", defaultRaw: "now()", onCreate: () => new Date() },
    updatedAt: { type: "datetime", defaultRaw: "now()", onCreate: () => new Date(), onUpdate: () => new Date() },
    lastSignInAt: { type: "datetime", nullable: true },
    userMetadata: { type: "json", defaultRaw: "'{}'" },
    appMetadata: { type: "json", defaultRaw: "'{}'" },
  },
});
