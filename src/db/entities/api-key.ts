import { EntitySchema } from "@mikro-orm/core";
import type { Scope } from "../../auth/principal.js";
import { TenantEntity, type Tenant } from "./tenant.js";

/**
 * An API key. The key itself (`hdb_<id>_<secret>`) is shown once at creation; only the SHA-256 of
 * the whole key is stored, looked up by its public `id`.
 */
export interface ApiKey {
  /** Public id: 8 characters of `[a-z0-9]`, the part after `hdb_`. */
  id: string;
  name: string;
  tenant: Tenant;
  /** `read`/`write`/`admin`, or `signup` alone (a publishable key). */
  scopes: Scope[];
  /** SHA-256 of the whole key. */
  hash: Buffer;
  createdAt: Date;
  /** `user:<id>`, `api_key:<id>` or `cli`. */
  createdBy: string;
  expiresAt: Date | null;
  /** Recorded at most once a minute per key. */
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

/** `auth.api_keys`. */
export const ApiKeyEntity = new EntitySchema<ApiKey>({
  name: "ApiKey",
  schema: "auth",
  tableName: "api_keys",
  indexes: [{ name: "api_keys_tenant_id_index", properties: ["tenant"] }],
  checks: [
    { name: "api_keys_id_check", expression: "id ~ '^[a-z0-9]{8}$'" },
    {
      name: "api_keys_scopes_check",
      expression:
        "cardinality(scopes) > 0 and scopes <@ array['read','write','admin','signup']::text[] and (scopes = '{signup}' or not 'signup' = any(scopes))",
    },
  ],
  properties: {
    id: { type: "text", primary: true },
    name: { type: "text" },
    tenant: { kind: "m:1", entity: () => TenantEntity, deleteRule: "restrict", updateRule: "cascade" },
    scopes: { type: "text[]" },
    hash: { type: "Buffer", columnType: "bytea" },
    createdAt: { type: "datetime", defaultRaw: "now()", onCreate: () => new Date() },
    createdBy: { type: "text" },
    expiresAt: { type: "datetime", nullable: true },
    lastUsedAt: { type: "datetime", nullable: true },
    revokedAt: { type: "datetime", nullable: true },
  },
});
