import type { JsonObject } from "@bufbuild/protobuf";
import { normalizeEmail } from "../auth/email.js";
import type { Scope } from "../auth/principal.js";
import type { User } from "../db/entities/user.js";
import { apiError } from "../errors/catalogue.js";
import type { Logger } from "../logging/logger.js";
import type { SessionCache } from "../auth/session-cache.js";
import type { SessionStore } from "../auth/session-store.js";
import { isUnknownTenantError, type UserChanges, type UserRights, type UserStore, type UserUpdate } from "../auth/user-store.js";
import { userScopes } from "./scope-input.js";

/** A user after an administrative change, and how many of its sessions the change ended. */
export interface UserChangeResult {
  user: User;
  revokedSessions: number;
}

/** A page of users. */
export interface UserPage {
  users: User[];
  /** Empty on the last page. */
  nextPageToken: string;
}

/** What {@link UserAdmin.list} filters by; empty strings mean "any". */
export interface UserQuery {
  tenantId: string;
  email: string;
  pageSize: number;
  pageToken: string;
}

/**
 * Administrative changes of users. Access tokens carry the tenant and scopes, so every change that
 * takes rights away (moving tenants, removing a scope, a ban, deletion) ends the user's sessions at
 * once: they are revoked in storage and in this process's session cache (other instances notice
 * within the cache's bound, 1 s). Added scopes apply from the user's next refresh or sign-in.
 */
export interface UserAdmin {
  list(query: UserQuery): Promise<UserPage>;
  /** The user with `email`; `user_not_found` when there is none. */
  findByEmail(email: string): Promise<User>;
  move(userId: string, tenantId: string): Promise<UserChangeResult>;
  setScopes(userId: string, scopes: readonly Scope[]): Promise<UserChangeResult>;
  grantScopes(userId: string, scopes: readonly Scope[]): Promise<UserChangeResult>;
  removeScopes(userId: string, scopes: readonly Scope[]): Promise<UserChangeResult>;
  /** Bans for `durationSeconds`, or until unbanned when 0. */
  ban(userId: string, durationSeconds: number): Promise<UserChangeResult>;
  unban(userId: string): Promise<UserChangeResult>;
  remove(userId: string): Promise<UserChangeResult>;
  /** Replaces the user's app_metadata (checked by the caller); tokens carry it from the next refresh. */
  setAppMetadata(userId: string, appMetadata: JsonObject): Promise<UserChangeResult>;
}

/** What {@link createUserAdmin} works with. */
export interface UserAdminDeps {
  users: UserStore;
  sessions: Pick<SessionStore, "revokeAll">;
  /** Told about revoked sessions so this process refuses their tokens at once. */
  sessionCache: Pick<SessionCache, "revoke">;
  logger: Logger;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The end of a ban without an end; a real date, so every reader compares it like any other. */
const indefinitely = new Date("9999-12-31T23:59:59Z");

const defaultPageSize = 100;
const maxPageSize = 1000;

/** Whether a change took rights away: another tenant, a scope fewer, or a ban in force. */
function takesRightsAway(before: UserRights, after: User): boolean {
  return (
    before.tenantId !== after.tenant.id ||
    before.scopes.some((scope) => !after.scopes.includes(scope)) ||
    (after.bannedUntil !== null && after.bannedUntil.getTime() > Date.now())
  );
}

/** Throws `validation_failed` unless `userId` is a UUID, as every user's id is. */
export function checkUserId(userId: string): void {
  if (!uuidPattern.test(userId)) throw apiError("validation_failed", "user_id must be a UUID", { metadata: { field: "user_id" } });
}

/** Creates the {@link UserAdmin}. */
export function createUserAdmin(deps: UserAdminDeps): UserAdmin {
  const { users, sessions, sessionCache, logger } = deps;

  async function current(userId: string): Promise<User> {
    checkUserId(userId);
    const user = await users.findById(userId);
    if (!user) throw apiError("user_not_found");
    return user;
  }

  async function endSessions(userId: string): Promise<number> {
    const revoked = await sessions.revokeAll(userId);
    sessionCache.revoke(revoked);
    return revoked.length;
  }

  /**
   * Applies what `changesOf` makes of the user's current rights (under a row lock, so concurrent
   * changes do not lose one another) and, if the change took rights away, ends the user's sessions
   * in the same transaction: no session started in between keeps the old claims, and no change
   * stands without the revocation it needs.
   */
  async function change(userId: string, action: string, changesOf: (current: UserRights) => UserChanges): Promise<UserChangeResult> {
    checkUserId(userId);
    let updated: UserUpdate | null;
    let revoked: string[] = [];
    try {
      updated = await users.update(userId, changesOf, async (em, { before, user }) => {
        if (takesRightsAway(before, user)) revoked = await sessions.revokeAll(userId, em);
      });
    } catch (error) {
      if (isUnknownTenantError(error)) throw apiError("tenant_not_found");
      throw error;
    }
    if (!updated) throw apiError("user_not_found");
    sessionCache.revoke(revoked);
    const { user } = updated;
    logger.info({ userId, action, tenantId: user.tenant.id, scopes: user.scopes, revokedSessions: revoked.length }, "user changed by an admin");
    return { user, revokedSessions: revoked.length };
  }

  return {
    async list(query) {
      const limit = query.pageSize === 0 ? defaultPageSize : Math.min(query.pageSize, maxPageSize);
      if (query.pageToken !== "" && !uuidPattern.test(query.pageToken)) {
        throw apiError("validation_failed", "page_token is invalid", { metadata: { field: "page_token" } });
      }
      const found = await users.list({
        tenantId: query.tenantId === "" ? undefined : query.tenantId,
        email: query.email === "" ? undefined : normalizeEmail(query.email),
        afterId: query.pageToken === "" ? undefined : query.pageToken,
        limit: limit + 1,
      });
      const page = found.slice(0, limit);
      return { users: page, nextPageToken: found.length > limit ? (page.at(-1)?.id ?? "") : "" };
    },

    async findByEmail(email) {
      const normalized = normalizeEmail(email);
      const user = await users.findByEmail(normalized);
      if (!user) throw apiError("user_not_found", `No user has the email ${normalized}`);
      return user;
    },

    move: (userId, tenantId) => change(userId, "move", () => ({ tenantId })),

    setScopes: (userId, scopes) => change(userId, "set_scopes", () => ({ scopes })),

    grantScopes: (userId, scopes) =>
      change(userId, "grant_scopes", (current) => ({
        scopes: userScopes.filter((scope) => current.scopes.includes(scope) || scopes.includes(scope)),
      })),

    removeScopes: (userId, scopes) =>
      change(userId, "remove_scopes", (current) => ({ scopes: current.scopes.filter((scope) => !scopes.includes(scope)) })),

    ban(userId, durationSeconds) {
      const until = durationSeconds === 0 ? indefinitely : new Date(Date.now() + durationSeconds * 1000);
      return change(userId, "ban", () => ({ bannedUntil: until }));
    },

    unban: (userId) => change(userId, "unban", () => ({ bannedUntil: null })),

    setAppMetadata: (userId, appMetadata) => change(userId, "set_app_metadata", () => ({ appMetadata })),

    async remove(userId) {
      const user = await current(userId);
      const revokedSessions = await endSessions(userId);
      if (!(await users.remove(userId))) throw apiError("user_not_found");
      logger.info({ userId, action: "delete", revokedSessions }, "user deleted by an admin");
      return { user, revokedSessions };
    },
  };
}
