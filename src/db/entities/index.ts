import type { EntitySchema } from "@mikro-orm/core";
import { ApiKeyEntity } from "./api-key.js";
import { RateLimitEntity } from "./rate-limit.js";
import { RefreshTokenEntity } from "./refresh-token.js";
import { SessionEntity } from "./session.js";
import { TenantEntity } from "./tenant.js";
import { UserEntity } from "./user.js";

/** Every MikroORM entity of the `auth` schema. Add new entities here. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- EntitySchema's generics differ per entity
export const entities: EntitySchema<any, any>[] = [
  TenantEntity,
  UserEntity,
  SessionEntity,
  RefreshTokenEntity,
  ApiKeyEntity,
  RateLimitEntity,
];
