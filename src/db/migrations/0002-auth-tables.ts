import { Migration } from "@mikro-orm/migrations";

/**
 * Tenants, users, sessions and refresh tokens of the `auth` schema (the entities in
 * `../entities/`). Emails are unique case-insensitively through a unique index on `lower(email)`,
 * so concurrent sign-ups of one address cannot both succeed. Refresh tokens are stored only as
 * SHA-256 hashes; `parent_id` is unique, so a token can be rotated into at most one child.
 */
export class AuthTablesMigration extends Migration {
  override up(): void {
    this.addSql(`create table auth.tenants (
      id text not null,
      name text not null,
      created_at timestamptz not null default now(),
      constraint tenants_pkey primary key (id))`);

    this.addSql(`create table auth.users (
      id uuid not null,
      email text not null,
      tenant_id text not null,
      scopes text[] not null default '{read,write}',
      role text not null default 'authenticated',
      password_hash text not null,
      banned_until timestamptz null,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      last_sign_in_at timestamptz null,
      constraint users_pkey primary key (id),
      constraint users_scopes_check check (scopes <@ array['read','write','admin']::text[]))`);
    this.addSql("create unique index users_email_key on auth.users (lower(email))");
    this.addSql("create index users_tenant_id_index on auth.users (tenant_id)");
    this.addSql(`alter table auth.users add constraint users_tenant_id_foreign
      foreign key (tenant_id) references auth.tenants (id) on update cascade on delete restrict`);

    this.addSql(`create table auth.sessions (
      id uuid not null,
      user_id uuid not null,
      created_at timestamptz not null default now(),
      refreshed_at timestamptz null,
      revoked_at timestamptz null,
      not_after timestamptz null,
      constraint sessions_pkey primary key (id))`);
    this.addSql("create index sessions_user_id_index on auth.sessions (user_id)");
    this.addSql(`alter table auth.sessions add constraint sessions_user_id_foreign
      foreign key (user_id) references auth.users (id) on update cascade on delete cascade`);

    this.addSql(`create table auth.refresh_tokens (
      id bigserial primary key,
      hash bytea not null,
      session_id uuid not null,
      parent_id bigint null,
      used_at timestamptz null,
      revoked boolean not null default false,
      created_at timestamptz not null default now(),
      expires_at timestamptz not null)`);
    this.addSql("alter table auth.refresh_tokens add constraint refresh_tokens_hash_key unique (hash)");
    this.addSql("alter table auth.refresh_tokens add constraint refresh_tokens_parent_id_key unique (parent_id)");
    this.addSql("create index refresh_tokens_session_id_index on auth.refresh_tokens (session_id)");
    this.addSql(`alter table auth.refresh_tokens add constraint refresh_tokens_session_id_foreign
      foreign key (session_id) references auth.sessions (id) on update cascade on delete cascade`);
    this.addSql(`alter table auth.refresh_tokens add constraint refresh_tokens_parent_id_foreign
      foreign key (parent_id) references auth.refresh_tokens (id) on update cascade on delete cascade`);
  }
}
