import { Migration } from "@mikro-orm/migrations";

/**
 * Rate-limit counters shared by every instance on one database (`../../auth/postgres-rate-limiter.ts`):
 * per key, the two fixed windows of a sliding-window counter, in milliseconds since the epoch.
 * `expires_at` is when the row stops mattering, so stale rows can be swept by an index scan.
 */
export class RateLimitsMigration extends Migration {
  override up(): void {
    this.addSql(`create table auth.rate_limits (
      key text not null,
      window_ms bigint not null,
      window_start bigint not null,
      previous integer not null,
      current integer not null,
      expires_at timestamptz not null,
      constraint rate_limits_pkey primary key (key))`);
    this.addSql("create index rate_limits_expires_at_index on auth.rate_limits (expires_at)");
  }
}
