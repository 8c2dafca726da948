import { UniqueConstraintViolationException } from "@mikro-orm/core";
import type { MikroORM } from "@mikro-orm/postgresql";
import { TenantEntity, type Tenant } from "../db/entities/tenant.js";
import { apiError } from "../errors/catalogue.js";

/** Tenant ids: 1 to 64 characters of `[A-Za-z0-9._-]`, starting with a letter or digit. */
const tenantIdPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Longest tenant name, in characters. */
const maxTenantNameLength = 200;

/** Tenants of the `auth` schema, for administration. */
export interface TenantStore {
  /** Creates a tenant; `validation_failed` for a bad id, `tenant_already_exists` for a taken one. */
  create(id: string, name: string): Promise<Tenant>;
  /** Every tenant, ordered by id. */
  list(): Promise<Tenant[]>;
  /** Whether tenant `id` exists. */
  exists(id: string): Promise<boolean>;
}

/** Throws `tenant_not_found` unless tenant `id` exists. */
export async function assertTenantExists(tenants: Pick<TenantStore, "exists">, id: string): Promise<void> {
  if (!(await tenants.exists(id))) throw apiError("tenant_not_found", `Tenant "${id}" does not exist`);
}

/** Creates the {@link TenantStore} of `orm`. */
export function createTenantStore(orm: MikroORM): TenantStore {
  return {
    async create(id, name) {
      if (!tenantIdPattern.test(id)) {
        throw apiError("validation_failed", "id must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' and '-', starting with a letter or digit", {
          metadata: { field: "id" },
        });
      }
      const displayName = name.trim() === "" ? id : name.trim();
      if ([...displayName].length > maxTenantNameLength) {
        throw apiError("validation_failed", `name must be at most ${maxTenantNameLength} characters`, { metadata: { field: "name" } });
      }
      const em = orm.em.fork();
      const tenant = em.create(TenantEntity, { id, name: displayName, createdAt: new Date() });
      try {
        await em.flush();
      } catch (error) {
        if (error instanceof UniqueConstraintViolationException) {
          throw apiError("tenant_already_exists", `Tenant "${id}" already exists`, { metadata: { field: "id" } });
        }
        throw error;
      }
      return tenant;
    },

    list() {
      return orm.em.fork().find(TenantEntity, {}, { orderBy: { id: "asc" } });
    },

    async exists(id) {
      return (await orm.em.fork().count(TenantEntity, { id })) > 0;
    },
  };
}
