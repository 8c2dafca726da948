import { Migration } from "@mikro-orm/migrations";

/** The LISTEN/NOTIFY channel on which changes that invalidate cached credentials are published. */
export const invalidationChannel = "helios_invalidation";

/**
 * Publishes every change that must reach the credential caches of all service instances, as
 * `NOTIFY helios_invalidation, '<kind>:<id>'`: a session revoked or cut short (`session`), a user's
 * scopes, tenant, role or ban changed or the user deleted (`user`), an API key revoked or deleted
 * (`api_key`). Triggers publish inside the changing transaction, so a notification is delivered
 * exactly when the change commits, whoever made it: a server, the admin CLI, or an operator's SQL.
 *
 * Publishing never fails the change: where NOTIFY is unavailable (some PostgreSQL-compatible
 * engines) a warning is raised and the caches' one-second lifetime bounds staleness instead.
 */
export class CacheInvalidationMigration extends Migration {
  override up(): void {
    this.addSql(`create function auth.publish_invalidation() returns trigger language plpgsql as $$
      begin
        begin
          perform pg_notify('${invalidationChannel}', tg_argv[0] || ':' || old.id::text);
        exception when others then
          raise warning 'could not publish cache invalidation %:%: %', tg_argv[0], old.id, sqlerrm;
        end;
        return null;
      end $$`);
    this.addSql("revoke all on function auth.publish_invalidation() from public");

    this.addSql(`create trigger sessions_publish_invalidation after update of revoked_at, not_after on auth.sessions
      for each row when (old.revoked_at is distinct from new.revoked_at or old.not_after is distinct from new.not_after)
      execute function auth.publish_invalidation('session')`);

    this.addSql(`create trigger users_publish_invalidation after update of scopes, tenant_id, role, banned_until on auth.users
      for each row when (old.scopes is distinct from new.scopes or old.tenant_id is distinct from new.tenant_id
        or old.role is distinct from new.role or old.banned_until is distinct from new.banned_until)
      execute function auth.publish_invalidation('user')`);
    this.addSql(`create trigger users_publish_deletion after delete on auth.users
      for each row execute function auth.publish_invalidation('user')`);

    this.addSql(`create trigger api_keys_publish_invalidation after update of revoked_at, expires_at, scopes, tenant_id on auth.api_keys
      for each row when (old.revoked_at is distinct from new.revoked_at or old.expires_at is distinct from new.expires_at
        or old.scopes is distinct from new.scopes or old.tenant_id is distinct from new.tenant_id)
      execute function auth.publish_invalidation('api_key')`);
    this.addSql(`create trigger api_keys_publish_deletion after delete on auth.api_keys
      for each row execute function auth.publish_invalidation('api_key')`);
  }
}
