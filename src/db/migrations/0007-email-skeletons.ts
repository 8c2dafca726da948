import { Migration } from "@mikro-orm/migrations";
import { emailSkeleton } from "../../auth/email-skeleton.js";

/**
 * Each user's `email_skeleton`: the UTS #39 confusable skeleton of the email
 * (`../../auth/email-skeleton.ts`), unique, so that no account is made whose address looks like
 * another's (Cyrillic `ѕорһіе@acme.com` beside `sophie@acme.com`), races included.
 *
 * PostgreSQL cannot compute a skeleton (it has no `confusables.txt`), so the existing rows are
 * filled here from JavaScript, oldest account first. When existing accounts already look alike,
 * only the oldest gets the skeleton and the others keep null; that is enough, since the oldest's
 * skeleton is theirs and keeps refusing new look-alikes of all of them. The column stays nullable:
 * a row inserted by other means than the service (an operator's SQL) has none until it is set.
 */
export class EmailSkeletonsMigration extends Migration {
  override async up(): Promise<void> {
    await this.execute(`alter table auth.users
      add column email_skeleton text null,
      add constraint users_email_skeleton_key unique (email_skeleton)`);
    const rows = (await this.execute("select id, email from auth.users order by created_at, id")) as Array<{ id: string; email: string }>;
    const taken = new Set<string>();
    const skeletons: Array<{ id: string; skeleton: string }> = [];
    for (const { id, email } of rows) {
      const skeleton = emailSkeleton(email.toLowerCase());
      if (taken.has(skeleton)) continue;
      taken.add(skeleton);
      skeletons.push({ id, skeleton });
    }
    if (skeletons.length === 0) return;
    await this.execute(
      `update auth.users u set email_skeleton = s.skeleton
        from jsonb_to_recordset(?::jsonb) as s(id uuid, skeleton text) where u.id = s.id`,
      [JSON.stringify(skeletons)],
    );
  }
}
