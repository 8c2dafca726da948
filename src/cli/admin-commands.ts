import type { MikroORM } from "@mikro-orm/postgresql";
import { createApiKeyAdmin, validateApiKeyRequest } from "../admin/api-key-admin.js";
import { parseUserScopes } from "../admin/scope-input.js";
import { createTenantStore } from "../admin/tenant-store.js";
import { createUserAdmin } from "../admin/user-admin.js";
import { apiKeyDisplayPrefix } from "../auth/api-key-format.js";
import { createApiKeyStore } from "../auth/api-key-store.js";
import { normalizeEmail } from "../auth/email.js";
import { createSessionCache } from "../auth/session-cache.js";
import { revokeAllSessions } from "../auth/session-store.js";
import { createUserStore } from "../auth/user-store.js";
import type { Logger } from "../logging/logger.js";
import { inventoryCommands } from "./inventory-commands.js";

/** What a command prints: `stdout` is the result (scriptable), `stderr` the explanation. */
export interface CommandOutput {
  stdout: string;
  stderr?: string;
}

/** The work of a command, once its flags are checked, against opened storage. */
export type CommandWork = (orm: MikroORM, logger: Logger) => Promise<CommandOutput>;

/** A flag of an admin command. */
export interface CommandFlag {
  help: string;
  required?: boolean;
  /** A switch taking no value (such as `--json`); its value is "true" when given. */
  switch?: boolean;
}

/** One `heliosdb-nano admin <name>` command. */
export interface AdminCommand {
  summary: string;
  flags: Record<string, CommandFlag>;
  /**
   * Checks the command's flag values and returns its work; throws catalogue `validation_failed`
   * errors (bad flags) before any storage is opened.
   */
  prepare(values: Record<string, string>): CommandWork;
}

/** Tenant of keys created without `--tenant`; created when missing, as a server does at start. */
const defaultTenant = "default";

const list = (value: string | undefined) => (value ?? "").split(",").map((item) => item.trim()).filter((item) => item !== "");

function seconds(raw: string | undefined): number {
  if (raw === undefined) return 0;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 0xffffffff) {
    throw new RangeError(`--expires-in must be a whole number of seconds from 1 to ${0xffffffff}, got "${raw}"`);
  }
  return Number(raw);
}

const createKey: AdminCommand = {
  summary: "create an API key and print it (shown only this once)",
  flags: {
    name: { help: "what the key is for, e.g. ops", required: true },
    scopes: { help: "comma-separated: read, write, admin; or signup alone (a publishable key)", required: true },
    tenant: { help: `tenant of the key (default "${defaultTenant}", created if missing; others must exist)` },
    "expires-in": { help: "lifetime in seconds (default: never expires)" },
  },
  prepare(values) {
    const request = validateApiKeyRequest(
      { name: values.name ?? "", tenantId: values.tenant ?? "", scopes: list(values.scopes), expiresInSeconds: seconds(values["expires-in"]) },
      defaultTenant,
    );
    return async (orm, logger) => {
      const users = createUserStore(orm);
      if (values.tenant === undefined) await users.ensureTenant(defaultTenant);
      const admin = createApiKeyAdmin({ apiKeys: createApiKeyStore(orm), tenants: createTenantStore(orm), logger });
      const { record, key } = await admin.create(request, "cli");
      const expiry = record.expiresAt ? `expires ${record.expiresAt.toISOString()}` : "never expires";
      return {
        stdout: `${key}\n`,
        stderr:
          `Created API key ${apiKeyDisplayPrefix(record.id)} "${record.name}" (tenant ${record.tenant.id}; scopes ${record.scopes.join(", ")}; ${expiry}).\n` +
          "It is shown only this once: store it now. Send it as the X-API-Key header.\n",
      };
    };
  },
};

const grant: AdminCommand = {
  summary: "add scopes to a user (from the user's next sign-in or refresh)",
  flags: {
    email: { help: "the user's email", required: true },
    scopes: { help: "comma-separated: read, write, admin", required: true },
  },
  prepare(values) {
    const email = normalizeEmail(values.email ?? "");
    const scopes = parseUserScopes(list(values.scopes), { required: true });
    return async (orm, logger) => {
      const admin = createUserAdmin({
        users: createUserStore(orm),
        sessions: { revokeAll: (userId, em) => revokeAllSessions(orm, userId, em) },
        sessionCache: createSessionCache(),
        logger,
      });
      const { user } = await admin.grantScopes((await admin.findByEmail(email)).id, scopes);
      return {
        stdout: `Granted ${scopes.join(", ")} to ${user.email} (tenant ${user.tenant.id}; scopes now ${user.scopes.join(", ")}).\n`,
        stderr: "Tokens carry scopes: the grant applies from the user's next sign-in or refresh.\n",
      };
    };
  },
};

/** Every admin command, by name. */
export const adminCommands: Readonly<Record<string, AdminCommand>> = { "create-key": createKey, grant, ...inventoryCommands };
