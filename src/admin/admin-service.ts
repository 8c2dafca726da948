import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  CreateApiKeyResponseSchema,
  ListApiKeysResponseSchema,
  ListTenantsResponseSchema,
  ListUserSessionsResponseSchema,
  ListUsersResponseSchema,
  type AdminService,
} from "../../gen/helios/admin/v1/admin_pb.js";
import { actorOf, adminOnly, requireAdmin } from "./admin-access.js";
import { assertMetadataSize } from "../auth/user-metadata.js";
import { adminUserMessage, apiKeyMessage, tenantMessage, userChangeMessage, userSessionMessage } from "./admin-messages.js";
import { validateApiKeyRequest, type ApiKeyAdmin } from "./api-key-admin.js";
import { parseUserScopes } from "./scope-input.js";
import type { SessionAdmin } from "./session-admin.js";
import type { TenantStore } from "./tenant-store.js";
import type { UserAdmin } from "./user-admin.js";

/** Everything the AdminService handlers use. */
export interface AdminServiceDeps {
  apiKeys: ApiKeyAdmin;
  tenants: TenantStore;
  users: UserAdmin;
  sessions: SessionAdmin;
  /** Tenant of keys created without one. */
  defaultTenant: string;
}

/**
 * Implements AdminService, for callers with the `admin` scope only (see {@link adminOnly}): one
 * implementation behind REST, Connect and gRPC.
 */
export function createAdminServiceImpl(deps: AdminServiceDeps): ServiceImpl<typeof AdminService> {
  const { apiKeys, tenants, users, sessions, defaultTenant } = deps;
  return adminOnly({
    async createApiKey(req, ctx) {
      const request = validateApiKeyRequest(
        { name: req.name, tenantId: req.tenantId, scopes: req.scopes, expiresInSeconds: req.expiresInSeconds },
        defaultTenant,
      );
      const created = await apiKeys.create(request, actorOf(requireAdmin(ctx)));
      return create(CreateApiKeyResponseSchema, { apiKey: apiKeyMessage(created.record), key: created.key });
    },

    async listApiKeys(req) {
      const keys = await apiKeys.list({ tenantId: req.tenantId || undefined, includeRevoked: req.includeRevoked });
      return create(ListApiKeysResponseSchema, { apiKeys: keys.map(apiKeyMessage) });
    },

    revokeApiKey: async (req) => apiKeyMessage(await apiKeys.revoke(req.id)),

    createTenant: async (req) => tenantMessage(await tenants.create(req.id, req.name)),

    async listTenants() {
      return create(ListTenantsResponseSchema, { tenants: (await tenants.list()).map(tenantMessage) });
    },

    async listUsers(req) {
      const page = await users.list(req);
      return create(ListUsersResponseSchema, { users: page.users.map(adminUserMessage), nextPageToken: page.nextPageToken });
    },

    moveUser: async (req) => userChangeMessage(await users.move(req.userId, req.tenantId)),

    setUserScopes: async (req) => userChangeMessage(await users.setScopes(req.userId, parseUserScopes(req.scopes, { required: false }))),

    grantUserScopes: async (req) => userChangeMessage(await users.grantScopes(req.userId, parseUserScopes(req.scopes, { required: true }))),

    removeUserScopes: async (req) =>
      userChangeMessage(await users.removeScopes(req.userId, parseUserScopes(req.scopes, { required: true }))),

    banUser: async (req) => userChangeMessage(await users.ban(req.userId, req.durationSeconds)),

    unbanUser: async (req) => userChangeMessage(await users.unban(req.userId)),

    deleteUser: async (req) => userChangeMessage(await users.remove(req.userId)),

    async listUserSessions(req) {
      return create(ListUserSessionsResponseSchema, { sessions: (await sessions.list(req.userId)).map(userSessionMessage) });
    },

    endUserSessions: async (req) => userChangeMessage(await sessions.end(req.userId, req.sessionId)),

    setUserPassword: async (req) => userChangeMessage(await sessions.setPassword(req.userId, req.password)),

    setUserAppMetadata: async (req) =>
      userChangeMessage(await users.setAppMetadata(req.userId, assertMetadataSize(req.appMetadata ?? {}, "app_metadata"))),
  });
}
