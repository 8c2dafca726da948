import type { MikroORM } from "@mikro-orm/postgresql";
import { AdminService } from "../../gen/helios/admin/v1/admin_pb.js";
import type { Accounts } from "../auth/auth-module.js";
import type { Logger } from "../logging/logger.js";
import type { ServiceModule } from "../server/request-handler.js";
import { createAdminServiceImpl } from "./admin-service.js";
import { createApiKeyAdmin } from "./api-key-admin.js";
import { createSessionAdmin } from "./session-admin.js";
import { createTenantStore } from "./tenant-store.js";
import { createUserAdmin } from "./user-admin.js";

/** What {@link createAdminModule} is built from. */
export interface AdminModuleDeps {
  orm: MikroORM;
  /** The auth module's stores and caches, so changes take effect in this process at once. */
  accounts: Accounts;
  /** Tenant of keys created without one. */
  defaultTenant: string;
  logger: Logger;
}

/** Builds AdminService: API keys, tenants and users, for principals with the `admin` scope. */
export function createAdminModule(deps: AdminModuleDeps): ServiceModule {
  const logger = deps.logger.child({ component: "admin" });
  const tenants = createTenantStore(deps.orm);
  const impl = createAdminServiceImpl({
    apiKeys: createApiKeyAdmin({ ...deps.accounts, tenants, logger }),
    tenants,
    users: createUserAdmin({ ...deps.accounts, logger }),
    sessions: createSessionAdmin({ ...deps.accounts, logger }),
    defaultTenant: deps.defaultTenant,
  });
  return {
    services: [AdminService],
    register: (router) => router.service(AdminService, impl),
  };
}
