import { Migration } from "@mikro-orm/migrations";

/**
 * Creates the `auth` schema (users, sessions, tokens, keys, tenants), owned by the migrating role
 * and closed to everyone else; user roles get no access to it.
 */
export class AuthSchemaMigration extends Migration {
  override up(): void {
    this.addSql("create schema if not exists auth");
    this.addSql("revoke all on schema auth from public");
  }
}
