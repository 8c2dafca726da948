import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { emailSkeleton } from "../../src/auth/email-skeleton.js";
import { openStorage, type Storage } from "../../src/db/storage.js";
import { createLogger } from "../../src/logging/logger.js";
import { backends } from "../support/server.js";
import { createScratchDatabase, externalDatabaseUrl, freshDataDir, removeDataDir } from "../support/postgres.js";

const externalUrl = await externalDatabaseUrl();

/**
 * Migration 0007 on a database that had users before it: opened once (every migration), then put
 * back to before 0007 (its column dropped, its record deleted) with accounts that 0007 must fill,
 * then opened again, which applies 0007 alone.
 */
describe.each(backends)("migration 0007 (email skeletons) on %s storage", (backend) => {
  let open: () => Promise<Storage>;
  let cleanUp: () => Promise<void>;
  beforeAll(async () => {
    const logger = createLogger("warn");
    if (backend === "embedded") {
      const dataDir = freshDataDir("skeletons");
      open = () => openStorage({ dataDir, logger });
      cleanUp = () => removeDataDir(dataDir);
    } else {
      const scratch = await createScratchDatabase(externalUrl!);
      open = () => openStorage({ dataDir: "unused", databaseUrl: scratch.url, logger });
      cleanUp = scratch.drop;
    }
  });
  afterAll(() => cleanUp?.());

  it("fills the skeletons of existing accounts, oldest first when some already look alike", async () => {
    const before = await open();
    try {
      const sql = (text: string, params: unknown[] = []) => before.orm.em.getConnection().execute(text, params);
      await sql("alter table auth.users drop column email_skeleton");
      await sql("delete from auth.mikro_orm_migrations where name = '0007-email-skeletons'");
      const insert = (email: string, createdAt: string) =>
        sql("insert into auth.users (id, email, tenant_id, password_hash, created_at) values (gen_random_uuid(), ?, 'default', 'x', ?)", [
          email,
          createdAt,
        ]);
      await sql("insert into auth.tenants (id, name) values ('default', 'default') on conflict do nothing");
      await insert("sophie@acme.com", "2024-01-02T00:00:00Z");
      // Made before this check existed: a Cyrillic look-alike, older, and an `rn` for an `m`, younger.
      await insert("\u0455\u043e\u0440\u04bb\u0456\u0435@acme.com", "2024-01-01T00:00:00Z");
      await insert("kim@acme.com", "2024-01-03T00:00:00Z");
      await insert("kirn@acme.com", "2024-01-04T00:00:00Z");
      await insert("Ivo@Acme.com", "2024-01-05T00:00:00Z");
    } finally {
      await before.close();
    }

    const after = await open();
    try {
      const rows = await after.orm.em
        .getConnection()
        .execute<Array<{ email: string; email_skeleton: string | null }>>("select email, email_skeleton from auth.users order by created_at");
      expect(rows).toEqual([
        { email: "\u0455\u043e\u0440\u04bb\u0456\u0435@acme.com", email_skeleton: emailSkeleton("sophie@acme.com") },
        { email: "sophie@acme.com", email_skeleton: null },
        { email: "kim@acme.com", email_skeleton: emailSkeleton("kim@acme.com") },
        { email: "kirn@acme.com", email_skeleton: null },
        { email: "Ivo@Acme.com", email_skeleton: emailSkeleton("ivo@acme.com") },
      ]);
      const diff = await after.orm.schema.getUpdateSchemaSQL({ wrap: false, schema: "auth" });
      expect(diff.trim()).toBe("");
    } finally {
      await after.close();
    }
  });
});
