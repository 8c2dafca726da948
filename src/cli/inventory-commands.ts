import { create, toJson, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import type { MikroORM } from "@mikro-orm/postgresql";
import {
  ApiKeySchema,
  ListApiKeysResponseSchema,
  ListTenantsResponseSchema,
  ListUsersResponseSchema,
  TenantSchema,
} from "../../gen/helios/admin/v1/admin_pb.js";
import { createApiKeyAdmin } from "../admin/api-key-admin.js";
import { adminUserMessage, apiKeyMessage, tenantMessage } from "../admin/admin-messages.js";
import { createTenantStore } from "../admin/tenant-store.js";
import { createUserAdmin } from "../admin/user-admin.js";
import { apiKeyDisplayPrefix } from "../auth/api-key-format.js";
import { createApiKeyStore } from "../auth/api-key-store.js";
import { normalizeEmail } from "../auth/email.js";
import { createSessionCache } from "../auth/session-cache.js";
import { revokeAllSessions } from "../auth/session-store.js";
import { createUserStore } from "../auth/user-store.js";
import type { User } from "../db/entities/user.js";
import type { Logger } from "../logging/logger.js";
import type { AdminCommand, CommandOutput } from "./admin-commands.js";

/** The `--json` switch every command here takes. */
const jsonFlag = { json: { help: "print the result as JSON (AdminService's REST shape), for scripts", switch: true } };

/** Prints `message` as AdminService's REST answer would be, or `text` for people. */
function output<Desc extends DescMessage>(values: Record<string, string>, schema: Desc, message: MessageShape<Desc>, text: string): CommandOutput {
  if (values.json === "true") return { stdout: `${JSON.stringify(toJson(schema, message, { alwaysEmitImplicit: true }))}\n` };
  return { stdout: text };
}

/** Rows as aligned columns under a header; "(none)" when there are no rows. */
function table(header: string[], rows: string[][]): string {
  if (rows.length === 0) return "(none)\n";
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)));
  const line = (cells: string[]) => cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join("  ").trimEnd();
  return `${[header, ...rows].map(line).join("\n")}\n`;
}

const when = (date: Date | null) => (date ? date.toISOString() : "-");

const createTenant: AdminCommand = {
  summary: "create a tenant",
  flags: {
    id: { help: "1 to 64 characters of A-Z, a-z, 0-9, '.', '_', '-', starting with a letter or digit", required: true },
    name: { help: "display name (default: the id)" },
    ...jsonFlag,
  },
  prepare(values) {
    return async (orm) => {
      const tenant = await createTenantStore(orm).create(values.id ?? "", values.name ?? "");
      return output(values, TenantSchema, tenantMessage(tenant), `Created tenant ${tenant.id} (${tenant.name}).\n`);
    };
  },
};

const listTenants: AdminCommand = {
  summary: "list every tenant",
  flags: { ...jsonFlag },
  prepare(values) {
    return async (orm) => {
      const tenants = await createTenantStore(orm).list();
      const rows = tenants.map((tenant) => [tenant.id, tenant.name, when(tenant.createdAt)]);
      return output(values, ListTenantsResponseSchema, create(ListTenantsResponseSchema, { tenants: tenants.map(tenantMessage) }), table(["ID", "NAME", "CREATED"], rows));
    };
  },
};

function apiKeyAdmin(orm: MikroORM, logger: Logger) {
  return createApiKeyAdmin({ apiKeys: createApiKeyStore(orm), tenants: createTenantStore(orm), logger });
}

const listKeys: AdminCommand = {
  summary: "list API keys (never their secrets), newest first",
  flags: {
    tenant: { help: "only the keys of this tenant" },
    "include-revoked": { help: "list revoked keys too", switch: true },
    ...jsonFlag,
  },
  prepare(values) {
    const filter = { tenantId: values.tenant, includeRevoked: values["include-revoked"] === "true" };
    return async (orm, logger) => {
      const keys = await apiKeyAdmin(orm, logger).list(filter);
      const rows = keys.map((key) => [
        apiKeyDisplayPrefix(key.id),
        key.name,
        key.tenant.id,
        key.scopes.join(","),
        when(key.createdAt),
        when(key.expiresAt),
        when(key.lastUsedAt),
        when(key.revokedAt),
      ]);
      return output(
        values,
        ListApiKeysResponseSchema,
        create(ListApiKeysResponseSchema, { apiKeys: keys.map(apiKeyMessage) }),
        table(["KEY", "NAME", "TENANT", "SCOPES", "CREATED", "EXPIRES", "LAST USED", "REVOKED"], rows),
      );
    };
  },
};

const revokeKey: AdminCommand = {
  summary: "revoke an API key (running servers refuse it within about a second)",
  flags: {
    id: { help: "the key's id or its hdb_<id> prefix, as list-keys shows it", required: true },
    ...jsonFlag,
  },
  prepare(values) {
    return async (orm, logger) => {
      const key = await apiKeyAdmin(orm, logger).revoke(values.id ?? "");
      return output(values, ApiKeySchema, apiKeyMessage(key), `Revoked API key ${apiKeyDisplayPrefix(key.id)} "${key.name}" (tenant ${key.tenant.id}).\n`);
    };
  },
};

/** The most users one page of the store answers; the command reads every page. */
const userPageSize = 1000;

const listUsers: AdminCommand = {
  summary: "list users (never their password hashes)",
  flags: {
    tenant: { help: "only the users of this tenant" },
    email: { help: "only the user with this email" },
    ...jsonFlag,
  },
  prepare(values) {
    const email = values.email === undefined ? "" : normalizeEmail(values.email);
    return async (orm, logger) => {
      const admin = createUserAdmin({
        users: createUserStore(orm),
        sessions: { revokeAll: (userId, em) => revokeAllSessions(orm, userId, em) },
        sessionCache: createSessionCache(),
        logger,
      });
      const users: User[] = [];
      let pageToken = "";
      do {
        const page = await admin.list({ tenantId: values.tenant ?? "", email, pageSize: userPageSize, pageToken });
        users.push(...page.users);
        pageToken = page.nextPageToken;
      } while (pageToken !== "");
      const now = Date.now();
      const rows = users.map((user) => [
        user.id,
        user.email,
        user.tenant.id,
        user.scopes.join(","),
        when(user.createdAt),
        user.bannedUntil !== null && user.bannedUntil.getTime() > now ? `until ${user.bannedUntil.toISOString()}` : "-",
      ]);
      return output(
        values,
        ListUsersResponseSchema,
        create(ListUsersResponseSchema, { users: users.map(adminUserMessage) }),
        table(["ID", "EMAIL", "TENANT", "SCOPES", "CREATED", "BANNED"], rows),
      );
    };
  },
};

/** The commands for tenants, API keys and users, by name. */
export const inventoryCommands: Readonly<Record<string, AdminCommand>> = {
  "create-tenant": createTenant,
  "list-tenants": listTenants,
  "list-keys": listKeys,
  "revoke-key": revokeKey,
  "list-users": listUsers,
};
