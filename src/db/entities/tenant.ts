import { EntitySchema } from "@mikro-orm/core";

/** A tenant: the unit of data isolation. Users belong to exactly one. */
export interface Tenant {
  /** Stable, human-readable id (such as `acme-corp`); the `tenant_id` claim of tokens. */
  id: string;
  name: string;
  createdAt: Date;
}

/** `auth.tenants`. */
export const TenantEntity = new EntitySchema<Tenant>({
  name: "Tenant",
  schema: "auth",
  tableName: "tenants",
  properties: {
    id: { type: "text", primary: true },
    name: { type: "text" },
    createdAt: { type: "datetime", defaultRaw: "now()", onCreate: () => new Date() },
  },
});
