import { EntitySchema } from "@mikro-orm/core";
import type { Scope } from "../../auth/principal.js";
import { TenantEntity, type Tenant } from "./tenant.js";

/** An account that signs in with an email and a password. */
export interface User {
  id: string;
  /** Normalised (trimmed, NFC, lower-case); unique through the index on `lower(email)`. */
  email: string;
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
}

/** `auth.users`. */
export const UserEntity = new EntitySchema<User>({
  name: "User",
  schema: "auth",
  tableName: "users",
  indexes: [{ name: "users_tenant_id_index", properties: ["tenant"] }],
  uniques: [{ name: "users_email_key", expression: "create unique index users_email_key on auth.users (lower(email))" }],
  checks: [{ name: "users_scopes_check", expression: "scopes <@ array['read','write','admin']::text[]" }],
  properties: {
    id: { type: "uuid", primary: true },
    email: { type: "text" },
    tenant: { kind: "m:1", entity: () => TenantEntity, deleteRule: "restrict", updateRule: "cascade" },
    scopes: { type: "text[]", defaultRaw: "'{read,write}'" },
    role: { type: "text", defaultRaw: "'authenticated'" },
    passwordHash: { type: "text" },
    bannedUntil: { type: "datetime", nullable: true },
    createdAt: { type: "datetime", defaultRaw: "now()", onCreate: () => new Date() },
    updatedAt: { type: "datetime", defaultRaw: "now()", onCreate: () => new Date(), onUpdate: () => new Date() },
    lastSignInAt: { type: "datetime", nullable: true },
  },
});
