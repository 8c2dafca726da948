import { EntitySchema } from "@mikro-orm/core";
import { UserEntity, type User } from "./user.js";

/** One sign-in of a user, kept alive by refresh-token rotation until revoked. */
export interface Session {
  id: string;
  user: User;
  createdAt: Date;
  /** Time of the last refresh-token rotation. */
  refreshedAt: Date | null;
  /** Set by logout or by refresh-token reuse; a revoked session never comes back. */
  revokedAt: Date | null;
  /** Hard end of the session regardless of refreshes, when set. */
  notAfter: Date | null;
  /** `User-Agent` of the sign-in, at most 512 characters. */
  userAgent: string | null;
  /** Client address of the sign-in. */
  ip: string | null;
}

/** `auth.sessions`. */
export const SessionEntity = new EntitySchema<Session>({
  name: "Session",
  schema: "auth",
  tableName: "sessions",
  indexes: [{ name: "sessions_user_id_index", properties: ["user"] }],
  properties: {
    id: { type: "uuid", primary: true },
    user: { kind: "m:1", entity: () => UserEntity, deleteRule: "cascade" },
    createdAt: { type: "datetime", defaultRaw: "now()", onCreate: () => new Date() },
    refreshedAt: { type: "datetime", nullable: true },
    revokedAt: { type: "datetime", nullable: true },
    notAfter: { type: "datetime", nullable: true },
    userAgent: { type: "text", nullable: true },
    ip: { type: "text", nullable: true },
  },
});
