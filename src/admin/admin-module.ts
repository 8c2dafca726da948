import type { DescMethod } from "@bufbuild/protobuf";
import type { MikroORM } from "@mikro-orm/postgresql";
import { AdminService } from "../../gen/helios/admin/v1/admin_pb.js";
import type { Accounts } from "../auth/auth-module.js";
import type { Reason } from "../errors/catalogue.js";
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
    errorReasons: adminErrorReasons(),
  };
}

/** The reasons each AdminService handler answers (every one checks the admin scope and its input). */
function adminErrorReasons(): ReadonlyMap<DescMethod, readonly Reason[]> {
  const methods = AdminService.method;
  const own: Array<[DescMethod, Reason[]]> = [
    [methods.createApiKey, ["tenant_not_found"]],
    [methods.listApiKeys, []],
    [methods.revokeApiKey, ["api_key_not_found"]],
    [methods.createTenant, ["tenant_already_exists"]],
    [methods.listTenants, []],
    [methods.listUsers, ["tenant_not_found"]],
    [methods.moveUser, ["user_not_found", "tenant_not_found"]],
    [methods.setUserScopes, ["user_not_found"]],
    [methods.grantUserScopes, ["user_not_found"]],
    [methods.removeUserScopes, ["user_not_found"]],
    [methods.banUser, ["user_not_found"]],
    [methods.unbanUser, ["user_not_found"]],
    [methods.deleteUser, ["user_not_found"]],
    [methods.listUserSessions, ["user_not_found"]],
    [methods.endUserSessions, ["user_not_found", "session_not_found"]],
    [methods.setUserPassword, ["user_not_found", "weak_password", "server_busy"]],
    [methods.setUserAppMetadata, ["user_not_found"]],
  ];
  return new Map(own.map(([method, reasons]) => [method, ["insufficient_scope", "validation_failed", ...reasons]]));
}
