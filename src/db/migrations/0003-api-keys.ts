import { Migration } from "@mikro-orm/migrations";

/**
 * API keys of the `auth` schema (`../entities/api-key.ts`): looked up by their public id, stored only
 * as the SHA-256 of the whole key. A publishable key holds `signup` and nothing else, so a key that
 * sits in a browser can never also read or write.
 */
export class ApiKeysMigration extends Migration {
  override up(): void {
    this.addSql(`create table auth.api_keys (
      id text not null,
      name text not null,
      tenant_id text not null,
      scopes text[] not null,
      hash bytea not null,
      created_at timestamptz not null default now(),
      created_by text not null,
      expires_at timestamptz null,
      last_used_at timestamptz null,
      revoked_at timestamptz null,
      constraint api_keys_pkey primary key (id),
      constraint api_keys_id_check check (id ~ '^[a-z0-9]{8}$'),
      constraint api_keys_scopes_check check (
        cardinality(scopes) > 0
        and scopes <@ array['read','write','admin','signup']::text[]
        and (scopes = '{signup}' or not 'signup' = any(scopes))))`);
    this.addSql("create index api_keys_tenant_id_index on auth.api_keys (tenant_id)");
    this.addSql(`alter table auth.api_keys add constraint api_keys_tenant_id_foreign
      foreign key (tenant_id) references auth.tenants (id) on update cascade on delete restrict`);
  }
}
