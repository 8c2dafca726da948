import { EntitySchema } from "@mikro-orm/core";
import { SessionEntity, type Session } from "./session.js";

/**
 * One refresh token of a session. Only its SHA-256 is stored. Rotation marks it used and creates its
 * single child (`parent` is unique), so a session's tokens form a chain whose last link is the live one.
 */
export interface RefreshToken {
  id: string;
  hash: Buffer;
  session: Session;
  parent: RefreshToken | null;
  /** When it was rotated; a used token is only accepted again within the grace window. */
  usedAt: Date | null;
  revoked: boolean;
  createdAt: Date;
  expiresAt: Date;
}

/** `auth.refresh_tokens`. */
export const RefreshTokenEntity: EntitySchema<RefreshToken> = new EntitySchema<RefreshToken>({
  name: "RefreshToken",
  schema: "auth",
  tableName: "refresh_tokens",
  indexes: [{ name: "refresh_tokens_session_id_index", properties: ["session"] }],
  properties: {
    id: { type: "bigint", primary: true, autoincrement: true },
    hash: { type: "Buffer", columnType: "bytea", unique: "refresh_tokens_hash_key" },
    session: { kind: "m:1", entity: () => SessionEntity, deleteRule: "cascade" },
    parent: {
      kind: "1:1",
      entity: (): EntitySchema<RefreshToken> => RefreshTokenEntity,
      nullable: true,
      owner: true,
      deleteRule: "cascade",
      unique: "refresh_tokens_parent_id_key",
    },
    usedAt: { type: "datetime", nullable: true },
    revoked: { type: "boolean", default: false },
    createdAt: { type: "datetime", defaultRaw: "now()", onCreate: () => new Date() },
    expiresAt: { type: "datetime" },
  },
});
