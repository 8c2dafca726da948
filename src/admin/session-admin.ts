import { assertPasswordPolicy } from "../auth/password-policy.js";
import type { PasswordHasher } from "../auth/passwords.js";
import type { SessionCache } from "../auth/session-cache.js";
import type { SessionRecord, SessionStore } from "../auth/session-store.js";
import type { UserStore } from "../auth/user-store.js";
import { apiError } from "../errors/catalogue.js";
import type { Logger } from "../logging/logger.js";
import { checkUserId, type UserChangeResult } from "./user-admin.js";

/**
 * A support desk's view of a user's sessions: list them, end one or all, and set the user's
 * password (a reset without email), which ends every session of the user at once. Ended sessions
 * are refused at once in this process and within the cache's bound (normally milliseconds through
 * the invalidation bus) in others.
 */
export interface SessionAdmin {
  /** The user's live sessions, newest first; `user_not_found` when there is no such user. */
  list(userId: string): Promise<SessionRecord[]>;
  /** Ends session `sessionId` of the user (`session_not_found` when it is not a live one), or all when it is empty. */
  end(userId: string, sessionId: string): Promise<UserChangeResult>;
  /** Sets the password under the sign-up policy and ends every session of the user. */
  setPassword(userId: string, password: string): Promise<UserChangeResult>;
}

/** What {@link createSessionAdmin} works with. */
export interface SessionAdminDeps {
  users: UserStore;
  sessions: Pick<SessionStore, "list" | "revoke" | "revokeAll">;
  sessionCache: Pick<SessionCache, "revoke">;
  hasher: PasswordHasher;
  logger: Logger;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Creates the {@link SessionAdmin}. */
export function createSessionAdmin(deps: SessionAdminDeps): SessionAdmin {
  const { users, sessions, sessionCache, hasher, logger } = deps;

  async function existing(userId: string) {
    checkUserId(userId);
    const user = await users.findById(userId);
    if (!user) throw apiError("user_not_found");
    return user;
  }

  return {
    async list(userId) {
      await existing(userId);
      return sessions.list(userId);
    },

    async end(userId, sessionId) {
      const user = await existing(userId);
      if (sessionId !== "" && !uuidPattern.test(sessionId)) throw apiError("session_not_found");
      const revoked = sessionId === "" ? await sessions.revokeAll(userId) : await sessions.revoke(userId, sessionId, "local");
      if (sessionId !== "" && revoked.length === 0) throw apiError("session_not_found");
      sessionCache.revoke(revoked);
      logger.info({ userId, action: "end_sessions", revokedSessions: revoked.length }, "user sessions ended by an admin");
      return { user, revokedSessions: revoked.length };
    },

    async setPassword(userId, password) {
      checkUserId(userId);
      assertPasswordPolicy(password);
      const passwordHash = await hasher.hash(password);
      let revoked: string[] = [];
      // Whoever holds a session may hold it with the password being replaced: ended in the same
      // transaction, so that the new password never stands beside them.
      const updated = await users.update(userId, () => ({ passwordHash }), async (em) => {
        revoked = await sessions.revokeAll(userId, em);
      });
      if (!updated) throw apiError("user_not_found");
      sessionCache.revoke(revoked);
      logger.info({ userId, action: "set_password", revokedSessions: revoked.length }, "user password set by an admin");
      return { user: updated.user, revokedSessions: revoked.length };
    },
  };
}
