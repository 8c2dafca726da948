import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openAdminStorage } from "../../src/db/admin-storage.js";
import { createLogger } from "../../src/logging/logger.js";
import type { SessionJson } from "../auth/support/auth-api.js";
import { rest } from "../auth/support/auth-api.js";
import { freshDataDir, removeDataDir } from "../support/postgres.js";
import { bearer, errorOf, getUser, refresh, signIn, signUp } from "./support/api.js";
import { startChildServer, type ChildServer } from "./support/child-server.js";

// A refresh whose answer the kill swallowed may have rotated already: its parent stays replayable for 2 min.
const flags = ["--signup-rate-limit", "0", "--signin-rate-limit", "0", "--refresh-rate-limit", "0", "--refresh-grace", "120"];

/** What the service acknowledged to a client before it was killed. */
interface Acknowledged {
  email: string;
  password: string;
  /** The newest refresh token the service handed out for the session. */
  refreshToken: string;
  accessToken: string;
  rotations: number;
  /** A logout was sent; whether it took effect is known only if it was answered. */
  logoutSent: boolean;
  loggedOut: boolean;
}

describe("kill -9 mid-load (embedded storage, child process)", () => {
  let dataDir: string;
  const servers: ChildServer[] = [];
  beforeAll(() => {
    dataDir = freshDataDir("crash");
  });
  afterAll(async () => {
    for (const server of servers) await server.stop("SIGKILL");
    await removeDataDir(dataDir);
  });

  it("loses nothing it acknowledged and leaves nothing half-written", async () => {
    const first = await startChildServer(["--data-dir", dataDir, ...flags]);
    servers.push(first);
    const acknowledged: Acknowledged[] = [];
    let killed = false;

    const worker = async () => {
      while (!killed) {
        let user: Awaited<ReturnType<typeof signUp>>;
        try {
          user = await signUp(first.url, "crash");
        } catch {
          return;
        }
        const record: Acknowledged = {
          email: user.email,
          password: user.password,
          refreshToken: user.session.refresh_token,
          accessToken: user.session.access_token,
          rotations: 0,
          logoutSent: false,
          loggedOut: false,
        };
        const index = acknowledged.push(record);
        for (let i = 0; i < 3 && !killed; i++) {
          const res = await refresh(first.url, record.refreshToken).catch(() => undefined);
          if (res?.status !== 200) return;
          const session = res.body as SessionJson;
          record.refreshToken = session.refresh_token;
          record.accessToken = session.access_token;
          record.rotations++;
        }
        if (index % 3 === 0) {
          record.logoutSent = true;
          const res = await rest(first.url, "POST", "/auth/v1/logout", { headers: bearer(record.accessToken) }).catch(() => undefined);
          if (res && res.status < 300) record.loggedOut = true;
        }
      }
    };
    const workers = Array.from({ length: 6 }, worker);
    while (acknowledged.length < 30 || acknowledged.filter((record) => record.loggedOut).length < 5) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    process.kill(first.pid, "SIGKILL");
    killed = true;
    await first.exited;
    await Promise.all(workers);

    // The orphaned PostgreSQL of the killed service is found and replaced on the next start.
    const second = await startChildServer(["--data-dir", dataDir, ...flags]);
    servers.push(second);
    for (const record of acknowledged) {
      expect((await signIn(second.url, record.email, record.password)).status, record.email).toBe(200);
      if (record.loggedOut) {
        expect(errorOf(await getUser(second.url, record.accessToken))).toBe("session_revoked");
        expect((await refresh(second.url, record.refreshToken)).status).toBe(401);
      } else if (!record.logoutSent) {
        expect((await getUser(second.url, record.accessToken)).status).toBe(200);
        expect((await refresh(second.url, record.refreshToken)).status).toBe(200);
      }
    }

    const storage = await openAdminStorage({ dataDir, logger: createLogger("silent") });
    try {
      const connection = storage.orm.em.getConnection();
      const count = async (sql: string) => Number((await connection.execute<Array<{ n: number }>>(sql))[0]?.n);
      expect(await count("select count(*)::int as n from auth.users u where not exists (select 1 from auth.sessions s where s.user_id = u.id)")).toBe(0);
      expect(await count("select count(*)::int as n from auth.sessions s where not exists (select 1 from auth.refresh_tokens t where t.session_id = s.id)")).toBe(0);
      expect(
        await count(`select count(*)::int as n from (select session_id from auth.refresh_tokens
                     where used_at is null and not revoked group by session_id having count(*) > 1) live`),
      ).toBe(0);
    } finally {
      await storage.close();
    }
    const rotations = acknowledged.reduce((sum, record) => sum + record.rotations, 0);
    const logouts = acknowledged.filter((record) => record.loggedOut).length;
    console.info(`kill -9: ${acknowledged.length} acknowledged sign-ups, ${rotations} rotations, ${logouts} logouts: all intact after restart`);
  }, 120_000);
});
