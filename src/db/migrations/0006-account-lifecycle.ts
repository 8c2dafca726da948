import { Migration } from "@mikro-orm/migrations";

/**
 * What the account lifecycle keeps (`../../auth/user-metadata.ts`, `../../auth/session-store.ts`):
 * each user's `user_metadata` (the user's own) and `app_metadata` (administrators'), JSON objects
 * only: the service caps each at 2048 bytes of JSON so that access tokens carrying them stay small
 * (the checks below are a backstop at twice that: jsonb prints wider); and
 * each session's user agent and client address as recorded when it signed in.
 *
 * Changes of either metadata are published on the invalidation channel (as `user`, see migration
 * 0004), so every instance's cached account (what GetUser answers) follows them as they commit.
 */
export class AccountLifecycleMigration extends Migration {
  override up(): void {
    this.addSql(`alter table auth.users
      add column user_metadata jsonb not null default '{}',
      add column app_metadata jsonb not null default '{}',
      add constraint users_user_metadata_check check (jsonb_typeof(user_metadata) = 'object' and octet_length(user_metadata::text) <= 4096),
      add constraint users_app_metadata_check check (jsonb_typeof(app_metadata) = 'object' and octet_length(app_metadata::text) <= 4096)`);
    this.addSql(`alter table auth.sessions
      add column user_agent text null,
      add column ip text null`);
    this.addSql(`create trigger users_publish_metadata after update of user_metadata, app_metadata on auth.users
      for each row when (old.user_metadata is distinct from new.user_metadata or old.app_metadata is distinct from new.app_metadata)
      execute function auth.publish_invalidation('user')`);
  }
}
