import type { MigrationObject } from "@mikro-orm/core";
import { AuthSchemaMigration } from "./0001-auth-schema.js";
import { AuthTablesMigration } from "./0002-auth-tables.js";
import { ApiKeysMigration } from "./0003-api-keys.js";
import { CacheInvalidationMigration } from "./0004-cache-invalidation.js";
import { RateLimitsMigration } from "./0005-rate-limits.js";
import { AccountLifecycleMigration } from "./0006-account-lifecycle.js";
import { EmailSkeletonsMigration } from "./0007-email-skeletons.js";

/** Every migration, in order. Append new ones at the end; never edit or reorder landed ones. */
export const migrations: MigrationObject[] = [
  { name: "0001-auth-schema", class: AuthSchemaMigration },
  { name: "0002-auth-tables", class: AuthTablesMigration },
  { name: "0003-api-keys", class: ApiKeysMigration },
  { name: "0004-cache-invalidation", class: CacheInvalidationMigration },
  { name: "0005-rate-limits", class: RateLimitsMigration },
  { name: "0006-account-lifecycle", class: AccountLifecycleMigration },
  { name: "0007-email-skeletons", class: EmailSkeletonsMigration },
];
