import type { MigrationObject } from "@mikro-orm/core";
import { AuthSchemaMigration } from "./0001-auth-schema.js";
import { AuthTablesMigration } from "./0002-auth-tables.js";
import { ApiKeysMigration } from "./0003-api-keys.js";

/** Every migration, in order. Append new ones at the end; never edit or reorder landed ones. */
export const migrations: MigrationObject[] = [
  { name: "0001-auth-schema", class: AuthSchemaMigration },
  { name: "0002-auth-tables", class: AuthTablesMigration },
  { name: "0003-api-keys", class: ApiKeysMigration },
];
