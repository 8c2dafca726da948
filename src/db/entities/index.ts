import type { EntitySchema } from "@mikro-orm/core";

/** Every MikroORM entity of the `auth` schema. Add new entities here. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- EntitySchema's generics differ per entity
export const entities: EntitySchema<any, any>[] = [];
