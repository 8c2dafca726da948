import type { MigrationObject } from "@mikro-orm/core";

/** Every migration, in order. Append new ones at the end; never edit or reorder landed ones. */
export const migrations: MigrationObject[] = [];
