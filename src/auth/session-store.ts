import { randomUUID } from "node:crypto";
import type { JsonObject } from "@bufbuild/protobuf";
import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";
import { childRefreshToken, hashRefreshToken, newRefreshToken, refreshTokenHashesEqual } from "./refresh-tokens.js";
import type { AccountFields } from "./account.js";
import type { Scope } from "./principal.js";

/** A session just started: its id and its first refresh token (the only time the token exists in clear). */
export interface NewSession {
  sessionId: string;
  refreshToken: string;
}

/**
 * What presenting a refresh token did:
 * - `rotated`: it was the live token; it is now used and `refreshToken` is its single child.
 * - `replayed`: it is the parent of the live token (its child is unused, unrevoked, unexpired) and
 *   was rotated less than the grace window ago (from its `used_at`, on the database clock; a window
 *   of 0 turns replays off); `refreshToken` is that same live child and nothing changed. Concurrent
 *   tabs refreshing with one token thus all end up holding the one live token.
 * - `reused`: any other already-used token (replayed too late, or an older ancestor): the whole
 *   session has just been revoked, since someone else holds a copy of the chain.
 * - `banned`: the token is valid but its user is banned; nothing changed.
 * - `invalid`: unknown, expired, revoked, or of a revoked or ended session.
 */
export type RotationOutcome =
  | { kind: "rotated" | "replayed"; sessionId: string; userId: string; refreshToken: string }
  | { kind: "reused"; sessionId: string; userId: string }
  | { kind: "banned" | "invalid" };

/** Which of a user's sessions a logout revokes: the caller's, all, or all but the caller's. */
export type LogoutScope = "local" | "global" | "others";

/** Where a session signed in from, as recorded with it. */
export interface SessionClient {
  /** `User-Agent` of the sign-in; cut to {@link maxUserAgentChars}. */
  userAgent?: string;
  ip?: string;
}

/** Longest user agent kept with a session. */
export const maxUserAgentChars = 512;

/** A live session as its user (or an administrator) sees it: never its tokens. */
export interface SessionRecord {
  id: string;
  createdAt: Date;
  refreshedAt: Date | null;
  userAgent: string | null;
  ip: string | null;
}

/** What the bearer check needs to know about a session. */
export interface SessionState {
  /** Not revoked and not past its `not_after`. */
  live: boolean;
  /** When the session signed in (its creation). */
  signedInAt: Date;
  /** The user's ban, if any (compared with the clock when used). */
  bannedUntil: Date | null;
  /**
   * The user's account as stored now: its scopes (a token names those it was signed with), its
   * tenant, and what GetUser answers.
   */
  account: AccountFields;
}

/**
 * Sessions and their refresh-token chains. Every time is the database's clock, so instances with
 * drifting clocks agree on expiry and on the grace window.
 */
export interface SessionStore {
  /** Starts a session of `userId` from `client` inside the transaction of `em`. */
  create(em: EntityManager, userId: string, client?: SessionClient): Promise<NewSession>;
  /**
   * Records a password sign-in of `userId` at `signedInAt` (and the new password hash of a rehash)
   * and starts its session, in one statement: one round trip, atomic without a transaction. Only
   * while the user's password hash is still `verifiedPasswordHash`, the one the sign-in checked the
   * password against, and the user is not banned: resolves undefined when the user no longer exists,
   * its password changed in between, or a ban began (a change that ended the user's sessions must
   * not be followed by one started from what it replaced).
   */
  startAfterSignIn(
    userId: string,
    verifiedPasswordHash: string,
    signedInAt: Date,
    client?: SessionClient,
    newPasswordHash?: string,
  ): Promise<NewSession | undefined>;
  /** Presents a refresh token; see {@link RotationOutcome}. Atomic and safe under concurrency. */
  rotate(refreshToken: string): Promise<RotationOutcome>;
  /**
   * Revokes sessions of `userId` by `scope` relative to `sessionId`, inside the transaction of `em`
   * when given; returns the ids revoked now.
   */
  revoke(userId: string, sessionId: string, scope: LogoutScope, em?: EntityManager): Promise<string[]>;
  /** Revokes every session of `userId`; see {@link revokeAllSessions}. */
  revokeAll(userId: string, em?: EntityManager): Promise<string[]>;
  /** The state of a session, or `undefined` when it does not exist (or belongs to another user). */
  state(sessionId: string, userId: string): Promise<SessionState | undefined>;
  /** The live sessions of `userId`, newest first. */
  list(userId: string): Promise<SessionRecord[]>;
}

/** Options of {@link createSessionStore}. */
export interface SessionStoreOptions {
  orm: MikroORM;
  refreshTokenExpirySeconds: number;
  refreshGraceSeconds: number;
  /** Secret that derives child refresh tokens; the signing JWT secret. */
  childSecret: string;
  /** Older secrets whose children may still be replayed during a grace window (key rotation). */
  previousChildSecrets: readonly string[];
}

const insertSessionSql = `
  with session as (
    insert into auth.sessions (id, user_id, created_at, user_agent, ip) values (?, ?, clock_timestamp(), ?, ?))
  insert into auth.refresh_tokens (hash, session_id, created_at, expires_at)
  values (?, ?, clock_timestamp(), clock_timestamp() + make_interval(secs => ?))`;

// The user's row, its new session and the session's first refresh token, all or nothing: the
// session rows are inserted from the updated user row, so a user deleted meanwhile, whose password
// changed since it was verified, or who was banned since, gets none.
const signInSql = `
  with signed_in as (
    update auth.users
    set last_sign_in_at = ?,
        password_hash = coalesce(?, password_hash),
        updated_at = case when ?::text is null then updated_at else ? end
    where id = ? and password_hash = ? and not coalesce(banned_until > clock_timestamp(), false)
    returning id),
  session as (
    insert into auth.sessions (id, user_id, created_at, user_agent, ip)
    select ?, id, clock_timestamp(), ?, ? from signed_in
    returning id)
  insert into auth.refresh_tokens (hash, session_id, created_at, expires_at)
  select ?, id, clock_timestamp(), clock_timestamp() + make_interval(secs => ?) from session
  returning session_id`;

// Every change to a session's tokens happens under this row lock, so one token is rotated at most once
// and a replay sees either the state before a rotation or after it, never half of it.
const lockSessionSql = `
  select s.id, s.user_id,
         s.revoked_at is null and (s.not_after is null or s.not_after > clock_timestamp()) as live,
         coalesce(u.banned_until > clock_timestamp(), false) as banned
  from auth.sessions s join auth.users u on u.id = s.user_id
  where s.id = (select session_id from auth.refresh_tokens where hash = ?)
  for update of s`;

// Read after the lock, in a new statement, so it sees every rotation committed before the lock was granted.
const presentedTokenSql = `
  select t.id, t.used_at is not null as used, t.revoked, t.expires_at <= clock_timestamp() as expired,
         coalesce(t.used_at > clock_timestamp() - make_interval(secs => ?), false) as in_grace,
         c.hash as child_hash,
         coalesce(c.used_at is null and not c.revoked and c.expires_at > clock_timestamp(), false) as child_live
  from auth.refresh_tokens t left join auth.refresh_tokens c on c.parent_id = t.id
  where t.hash = ?`;

const rotateSql = `
  with used as (update auth.refresh_tokens set used_at = clock_timestamp() where id = ?),
       refreshed as (update auth.sessions set refreshed_at = clock_timestamp() where id = ?)
  insert into auth.refresh_tokens (hash, session_id, parent_id, created_at, expires_at)
  values (?, ?, ?, clock_timestamp(), clock_timestamp() + make_interval(secs => ?))`;

/** The sessions of a user a logout scope selects, relative to the caller's session id. */
const scopeCondition: Record<LogoutScope, (sessionId: string) => [sql: string, params: string[]]> = {
  local: (sessionId) => ["id = ?", [sessionId]],
  others: (sessionId) => ["id <> ?", [sessionId]],
  global: () => ["true", []],
};

// The session row is what every check reads; the tokens' `revoked` flag is a second line of defence.
const revokeSql = (condition: string) => `
  with revoked as (
    update auth.sessions set revoked_at = clock_timestamp()
    where user_id = ? and revoked_at is null and ${condition}
    returning id),
  tokens as (
    update auth.refresh_tokens set revoked = true
    where session_id in (select id from revoked) and not revoked)
  select id from revoked`;

const stateSql = `
  select s.user_id, s.revoked_at is null and (s.not_after is null or s.not_after > clock_timestamp()) as live,
         s.created_at as signed_in_at, u.banned_until, u.scopes, u.tenant_id, u.email, u.role, u.created_at,
         u.last_sign_in_at, u.user_metadata, u.app_metadata
  from auth.sessions s join auth.users u on u.id = s.user_id
  where s.id = ? and s.user_id = ?`;

const listSql = `
  select id, created_at, refreshed_at, user_agent, ip from auth.sessions
  where user_id = ? and revoked_at is null and (not_after is null or not_after > clock_timestamp())
  order by created_at desc, id`;

interface ListRow {
  id: string;
  created_at: string | Date;
  refreshed_at: string | Date | null;
  user_agent: string | null;
  ip: string | null;
}

interface LockedSessionRow {
  id: string;
  user_id: string;
  live: boolean;
  banned: boolean;
}

interface PresentedTokenRow {
  id: string;
  used: boolean;
  revoked: boolean;
  expired: boolean;
  in_grace: boolean;
  child_hash: Buffer | null;
  child_live: boolean;
}

interface StateRow {
  user_id: string;
  live: boolean;
  signed_in_at: string | Date;
  /** MikroORM's pg setup returns timestamptz as text. */
  banned_until: string | Date | null;
  scopes: Scope[];
  tenant_id: string;
  email: string;
  role: string;
  created_at: string | Date;
  last_sign_in_at: string | Date | null;
  user_metadata: JsonObject;
  app_metadata: JsonObject;
}

const invalid: RotationOutcome = Object.freeze({ kind: "invalid" });

/** Revokes the sessions of `userId` that `scope` selects, through `em`; returns the ids revoked now. */
async function revokeSessions(em: EntityManager, userId: string, sessionId: string, scope: LogoutScope): Promise<string[]> {
  const [condition, params] = scopeCondition[scope](sessionId);
  const rows = await em.execute<Array<{ id: string }>>(revokeSql(condition), [userId, ...params]);
  return rows.map((row) => row.id);
}

/**
 * Revokes every session of `userId` (an administrative change), inside the transaction of `em` when
 * given, and returns the ids revoked now. It needs no secret, so administrative commands call it
 * without building a {@link SessionStore}.
 */
export function revokeAllSessions(orm: MikroORM, userId: string, em: EntityManager = orm.em): Promise<string[]> {
  return revokeSessions(em, userId, "", "global");
}

/** Creates the PostgreSQL {@link SessionStore}. */
export function createSessionStore(options: SessionStoreOptions): SessionStore {
  const { orm, refreshTokenExpirySeconds: expiry, refreshGraceSeconds: grace } = options;
  const childSecrets = [options.childSecret, ...options.previousChildSecrets];

  /** The live child of `parent` if it was derived with any known secret. */
  function knownChild(parent: string, childHash: Buffer): string | undefined {
    for (const secret of childSecrets) {
      const child = childRefreshToken(parent, secret);
      if (refreshTokenHashesEqual(child.hash, childHash)) return child.token;
    }
    return undefined;
  }

  return {
    async create(em, userId, client = {}) {
      const sessionId = randomUUID();
      const first = newRefreshToken();
      const userAgent = client.userAgent?.slice(0, maxUserAgentChars) ?? null;
      await em.execute(insertSessionSql, [sessionId, userId, userAgent, client.ip ?? null, first.hash, sessionId, expiry], "run");
      return { sessionId, refreshToken: first.token };
    },

    async startAfterSignIn(userId, verifiedPasswordHash, signedInAt, client = {}, newPasswordHash) {
      const sessionId = randomUUID();
      const first = newRefreshToken();
      const userAgent = client.userAgent?.slice(0, maxUserAgentChars) ?? null;
      const hash = newPasswordHash ?? null;
      const values = [signedInAt, hash, hash, signedInAt, userId, verifiedPasswordHash, sessionId, userAgent, client.ip ?? null, first.hash, expiry];
      const started = await orm.em.fork().execute<Array<{ session_id: string }>>(signInSql, values);
      return started.length === 0 ? undefined : { sessionId, refreshToken: first.token };
    },

    rotate(refreshToken) {
      const hash = hashRefreshToken(refreshToken);
      return orm.em.fork().transactional(async (em): Promise<RotationOutcome> => {
        const [session] = await em.execute<LockedSessionRow[]>(lockSessionSql, [hash]);
        if (!session) return invalid;
        const [token] = await em.execute<PresentedTokenRow[]>(presentedTokenSql, [grace, hash]);
        if (!token || !session.live || token.revoked || token.expired) return invalid;
        if (session.banned) return { kind: "banned" };
        const ids = { sessionId: session.id, userId: session.user_id };

        if (!token.used) {
          const child = childRefreshToken(refreshToken, options.childSecret);
          await em.execute(rotateSql, [token.id, session.id, child.hash, session.id, token.id, expiry], "run");
          return { kind: "rotated", ...ids, refreshToken: child.token };
        }
        if (token.in_grace && token.child_live && token.child_hash) {
          // Not derivable only if its secret has since been dropped from the configuration.
          const child = knownChild(refreshToken, token.child_hash);
          return child === undefined ? invalid : { kind: "replayed", ...ids, refreshToken: child };
        }
        await revokeSessions(em, session.user_id, session.id, "local");
        return { kind: "reused", ...ids };
      });
    },

    revoke: (userId, sessionId, scope, em = orm.em) => revokeSessions(em, userId, sessionId, scope),

    revokeAll: (userId, em) => revokeAllSessions(orm, userId, em),

    async state(sessionId, userId) {
      const [row] = await orm.em.getConnection().execute<StateRow[]>(stateSql, [sessionId, userId]);
      if (!row) return undefined;
      const bannedUntil = row.banned_until === null ? null : new Date(row.banned_until);
      const account: AccountFields = {
        id: row.user_id,
        email: row.email,
        role: row.role,
        tenantId: row.tenant_id,
        scopes: row.scopes,
        createdAt: new Date(row.created_at),
        lastSignInAt: row.last_sign_in_at === null ? null : new Date(row.last_sign_in_at),
        userMetadata: row.user_metadata,
        appMetadata: row.app_metadata,
      };
      return { live: row.live, signedInAt: new Date(row.signed_in_at), bannedUntil, account };
    },

    async list(userId) {
      const rows = await orm.em.getConnection().execute<ListRow[]>(listSql, [userId]);
      return rows.map((row) => ({
        id: row.id,
        createdAt: new Date(row.created_at),
        refreshedAt: row.refreshed_at === null ? null : new Date(row.refreshed_at),
        userAgent: row.user_agent,
        ip: row.ip,
      }));
    },
  };
}
