import { parseApiKeyId } from "../auth/api-key-format.js";
import type { ApiKeyFilter, ApiKeyStore, CreatedApiKey } from "../auth/api-key-store.js";
import type { ApiKeyVerifier } from "../auth/api-key-verifier.js";
import type { Scope } from "../auth/principal.js";
import { isUnknownTenantError } from "../auth/user-store.js";
import type { ApiKey } from "../db/entities/api-key.js";
import { apiError } from "../errors/catalogue.js";
import type { Logger } from "../logging/logger.js";
import { parseKeyScopes } from "./scope-input.js";
import { assertTenantExists, type TenantStore } from "./tenant-store.js";

/** A key as requested, before validation. */
export interface ApiKeyRequest {
  name: string;
  /** Empty for the default tenant. */
  tenantId: string;
  scopes: readonly string[];
  /** 0 never expires. */
  expiresInSeconds: number;
}

/** A validated {@link ApiKeyRequest}. */
export interface ValidApiKeyRequest {
  name: string;
  tenantId: string;
  scopes: Scope[];
  expiresInSeconds: number;
}

const maxNameLength = 100;
// eslint-disable-next-line no-control-regex -- the point is to find control characters
const controlPattern = /[\u0000-\u001f\u007f-\u009f]/u;

/** Checks a key request (`validation_failed` otherwise); without touching storage, so the CLI can check its flags first. */
export function validateApiKeyRequest(request: ApiKeyRequest, defaultTenant: string): ValidApiKeyRequest {
  const name = request.name.trim();
  if (name === "" || [...name].length > maxNameLength || controlPattern.test(name)) {
    throw apiError("validation_failed", `name must be 1 to ${maxNameLength} printable characters`, { metadata: { field: "name" } });
  }
  if (!Number.isSafeInteger(request.expiresInSeconds) || request.expiresInSeconds < 0) {
    throw apiError("validation_failed", "expires_in_seconds must be a whole number of seconds", { metadata: { field: "expires_in_seconds" } });
  }
  return {
    name,
    tenantId: request.tenantId === "" ? defaultTenant : request.tenantId,
    scopes: parseKeyScopes(request.scopes),
    expiresInSeconds: request.expiresInSeconds,
  };
}

/** Creating, listing and revoking API keys; failures are catalogue errors. */
export interface ApiKeyAdmin {
  /** Creates a key for `createdBy` (`user:<id>`, `api_key:<id>` or `cli`). */
  create(request: ValidApiKeyRequest, createdBy: string): Promise<CreatedApiKey>;
  list(filter: ApiKeyFilter): Promise<ApiKey[]>;
  /** Revokes the key named by its id or `hdb_<id>` prefix; in this process at once, elsewhere within 1 s. */
  revoke(idOrPrefix: string): Promise<ApiKey>;
}

/** What {@link createApiKeyAdmin} works with. */
export interface ApiKeyAdminDeps {
  apiKeys: ApiKeyStore;
  /** Told about revoked keys so this process refuses them at once; absent outside a server. */
  apiKeyVerifier?: Pick<ApiKeyVerifier, "revoked">;
  tenants: Pick<TenantStore, "exists">;
  logger: Logger;
}

/** Creates the {@link ApiKeyAdmin}. */
export function createApiKeyAdmin(deps: ApiKeyAdminDeps): ApiKeyAdmin {
  const { apiKeys, apiKeyVerifier, tenants, logger } = deps;
  return {
    async create(request, createdBy) {
      await assertTenantExists(tenants, request.tenantId);
      let created: CreatedApiKey;
      try {
        created = await apiKeys.create({ ...request, createdBy });
      } catch (error) {
        if (isUnknownTenantError(error)) throw apiError("tenant_not_found");
        throw error;
      }
      const { record } = created;
      logger.info({ keyId: record.id, tenantId: request.tenantId, scopes: record.scopes, createdBy }, "API key created");
      return created;
    },

    list: (filter) => apiKeys.list(filter),

    async revoke(idOrPrefix) {
      const id = parseApiKeyId(idOrPrefix);
      const revoked = id === undefined ? undefined : await apiKeys.revoke(id);
      if (!revoked) throw apiError("api_key_not_found");
      apiKeyVerifier?.revoked(revoked.id);
      logger.info({ keyId: revoked.id }, "API key revoked");
      return revoked;
    },
  };
}
