import { createHash, randomBytes, randomUUID } from "node:crypto";
import type pg from "pg";

/*
 * The statements one refresh (POST /auth/v1/token?grant_type=refresh_token) runs, copied from
 * src/auth/session-store.ts (rotate) and src/auth/user-store.ts (findById), and checked with
 * log_statement=all on a running server. MikroORM inlines parameters, so every one of them goes over
 * the simple protocol as literal SQL, on pooled connections:
 *   BEGIN; lock session; read presented token; rotate (mark used + insert child); COMMIT
 *   then, on a connection of its own, the user row.
 * Keep this in step with the session store.
 */

const lockSessionSql = (hash: string) => `
  select s.id, s.user_id,
         s.revoked_at is null and (s.not_after is null or s.not_after > clock_timestamp()) as live,
         coalesce(u.banned_until > clock_timestamp(), false) as banned
  from auth.sessions s join auth.users u on u.id = s.user_id
  where s.id = (select session_id from auth.refresh_tokens where hash = ${hash})
  for update of s`;

const presentedTokenSql = (grace: number, hash: string) => `
  select t.id, t.used_at is not null as used, t.revoked, t.expires_at <= clock_timestamp() as expired,
         coalesce(t.used_at > clock_timestamp() - make_interval(secs => ${grace}), false) as in_grace,
         c.hash as child_hash,
         coalesce(c.used_at is null and not c.revoked and c.expires_at > clock_timestamp(), false) as child_live
  from auth.refresh_tokens t left join auth.refresh_tokens c on c.parent_id = t.id
  where t.hash = ${hash}`;

const rotateSql = (tokenId: string, sessionId: string, childHash: string, expiry: number) => `
  with used as (update auth.refresh_tokens set used_at = clock_timestamp() where id = '${tokenId}'),
       refreshed as (update auth.sessions set refreshed_at = clock_timestamp() where id = '${sessionId}')
  insert into auth.refresh_tokens (hash, session_id, parent_id, created_at, expires_at)
  values (${childHash}, '${sessionId}', '${tokenId}', clock_timestamp(), clock_timestamp() + make_interval(secs => ${expiry}))`;

const insertSessionSql = (sessionId: string, userId: string, hash: string, expiry: number) => `
  with session as (
    insert into auth.sessions (id, user_id, created_at) values ('${sessionId}', '${userId}', clock_timestamp()))
  insert into auth.refresh_tokens (hash, session_id, created_at, expires_at)
  values (${hash}, '${sessionId}', clock_timestamp(), clock_timestamp() + make_interval(secs => ${expiry}))`;

const userByIdSql = (userId: string) => `select "u0".* from "auth"."users" as "u0" where "u0"."id" = '${userId}' limit 1`;

/** A bytea literal the way MikroORM inlines a Buffer. */
const byteaLiteral = (bytes: Buffer) => `E'\\\\x${bytes.toString("hex")}'`;

/** SHA-256 of a token, as the session store hashes refresh tokens. */
const hashOf = (token: string) => createHash("sha256").update(token, "utf8").digest();

const newToken = () => randomBytes(32).toString("base64url");

/** One refresh-token chain of a session, rotated by {@link RefreshChain.refresh}. */
export interface RefreshChain {
  /** Runs the statements of one successful refresh and advances the chain. */
  refresh(): Promise<void>;
}

/** Options of {@link startRefreshChain}. */
export interface RefreshChainOptions {
  pool: pg.Pool;
  userId: string;
  /** `--refresh-grace` of the server (default 10). */
  graceSeconds: number;
  /** `--refresh-token-expiry` of the server (default 604800). */
  expirySeconds: number;
}

/** Starts a new session of `userId` (as sign-in would) and returns its chain. */
export async function startRefreshChain(options: RefreshChainOptions): Promise<RefreshChain> {
  const { pool, userId, graceSeconds, expirySeconds } = options;
  let token = newToken();
  await pool.query(insertSessionSql(randomUUID(), userId, byteaLiteral(hashOf(token)), expirySeconds));
  return {
    async refresh() {
      const hash = byteaLiteral(hashOf(token));
      const client = await pool.connect();
      let child: string;
      try {
        await client.query("BEGIN;");
        const session = (await client.query<{ id: string; user_id: string; live: boolean }>(lockSessionSql(hash))).rows[0];
        const presented = (await client.query<{ id: string; used: boolean }>(presentedTokenSql(graceSeconds, hash))).rows[0];
        if (!session?.live || !presented || presented.used) throw new Error("refresh chain broken");
        // The service derives the child with an HMAC of the parent; a random token costs the same here.
        child = newToken();
        await client.query(rotateSql(presented.id, session.id, byteaLiteral(hashOf(child)), expirySeconds));
        await client.query("COMMIT;");
      } catch (error) {
        await client.query("ROLLBACK;").catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
      const user = await pool.query(userByIdSql(userId));
      if (user.rowCount !== 1) throw new Error("user not found");
      token = child;
    },
  };
}
