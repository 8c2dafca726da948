import { randomUUID } from "node:crypto";
import { ForeignKeyConstraintViolationException, LockMode, UniqueConstraintViolationException, sql, type FilterQuery } from "@mikro-orm/core";
import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";
import type { JsonObject } from "@bufbuild/protobuf";
import { TenantEntity } from "../db/entities/tenant.js";
import { UserEntity, type User } from "../db/entities/user.js";
import { emailSkeleton } from "./email-skeleton.js";
import type { Scope } from "./principal.js";

/** Scopes of every user who signs up; never taken from the request. */
export const defaultUserScopes: readonly Scope[] = Object.freeze(["read", "write"]);

/** The database role name of users. */
export const userRole = "authenticated";

/** A user to create. */
export interface NewUser {
  /** Normalised email; the store derives its skeleton. */
  email: string;
  passwordHash: string;
  tenantId: string;
  /** Checked by the caller (a JSON object within the size cap). */
  userMetadata: JsonObject;
}

/** Which users {@link UserStore.list} returns. */
export interface UserFilter {
  tenantId?: string;
  /** Normalised email. */
  email?: string;
  /** Only users whose id sorts after this one (keyset paging). */
  afterId?: string;
  limit: number;
}

/** What administrative changes touch: a user's tenant, scopes and ban. */
export interface UserRights {
  tenantId: string;
  scopes: readonly Scope[];
  bannedUntil: Date | null;
}

/** The user after an administrative change, and its rights before it. */
export interface UserUpdate {
  before: UserRights;
  user: User;
}

/** What {@link UserStore.update} shows a change of the user as locked: its rights and its metadata. */
export interface LockedUser extends UserRights {
  userMetadata: JsonObject;
}

/** A change of a user (administrative, or the user's own); absent fields stay as they are. */
export interface UserChanges {
  tenantId?: string;
  scopes?: readonly Scope[];
  bannedUntil?: Date | null;
  /** argon2id PHC string of a new password. */
  passwordHash?: string;
  userMetadata?: JsonObject;
  appMetadata?: JsonObject;
}

/** Users of the `auth` schema, through MikroORM. */
export interface UserStore {
  /** The user with the normalised `email`, compared case-insensitively (the unique index's expression). */
  findByEmail(email: string): Promise<User | null>;
  /**
   * Whether an account has the normalised `email` or one that looks like it (the same UTS #39
   * skeleton, `./email-skeleton.ts`): the accounts {@link create} would refuse it beside.
   */
  isTaken(email: string): Promise<boolean>;
  findById(id: string): Promise<User | null>;
  /**
   * Inserts a user, with the skeleton of its email, inside the transaction of `em`. When the email or
   * its skeleton is taken, a unique index makes it throw an error that {@link isDuplicateEmailError}
   * recognises (and the transaction must roll back).
   */
  create(em: EntityManager, input: NewUser): Promise<User>;
  /** Creates the tenant `id` unless it exists. */
  ensureTenant(id: string): Promise<void>;
  /** Users matching `filter`, ordered by id. */
  list(filter: UserFilter): Promise<User[]>;
  /**
   * Changes user `id` under a row lock: `changesOf` gets its rights as stored now and says what to
   * change, so concurrent changes of one user apply one after the other and none is lost (a grant
   * computed from a stale read would restore a scope just removed). Resolves with the user after the
   * change, or null when there is none. A tenant that does not exist makes it throw an error that
   * {@link isUnknownTenantError} recognises. `alsoInTransaction` runs after the change, in its
   * transaction (ending sessions along with a password change): when it throws, the change is rolled
   * back with it.
   */
  update(
    id: string,
    changesOf: (current: LockedUser) => UserChanges,
    alsoInTransaction?: (em: EntityManager, update: UserUpdate) => Promise<void>,
  ): Promise<UserUpdate | null>;
  /** Deletes user `id` with its sessions and refresh tokens; false when there was none. */
  remove(id: string): Promise<boolean>;
}

/** Whether `error` is a foreign key refusing a tenant that does not exist. */
export function isUnknownTenantError(error: unknown): boolean {
  return error instanceof ForeignKeyConstraintViolationException;
}

/** Unique indexes that refuse a second account with one address: the email, and its skeleton. */
const emailConstraints: ReadonlySet<string | undefined> = new Set(["users_email_key", "users_email_skeleton_key"]);

/**
 * Whether `error` is a unique index refusing a second account with one address: the same email, or
 * one that looks like it (the same skeleton).
 */
export function isDuplicateEmailError(error: unknown): boolean {
  return (
    error instanceof UniqueConstraintViolationException &&
    emailConstraints.has((error as UniqueConstraintViolationException & { constraint?: string }).constraint)
  );
}

/** Creates the {@link UserStore} of `orm`. */
export function createUserStore(orm: MikroORM): UserStore {
  return {
    findByEmail(email) {
      return orm.em.fork().findOne(UserEntity, { [sql.lower("email")]: email });
    },

    async isTaken(email) {
      const where: FilterQuery<User> = { $or: [{ [sql.lower("email")]: email }, { emailSkeleton: emailSkeleton(email) }] };
      return (await orm.em.fork().count(UserEntity, where)) > 0;
    },

    findById(id) {
      return orm.em.fork().findOne(UserEntity, { id });
    },

    async create(em, input) {
      const now = new Date();
      const user = em.create(UserEntity, {
        id: randomUUID(),
        email: input.email,
        emailSkeleton: emailSkeleton(input.email),
        tenant: input.tenantId,
        scopes: [...defaultUserScopes],
        role: userRole,
        passwordHash: input.passwordHash,
        bannedUntil: null,
        createdAt: now,
        updatedAt: now,
        lastSignInAt: now,
        userMetadata: input.userMetadata,
        appMetadata: {},
      });
      await em.flush();
      return user;
    },

    async ensureTenant(id) {
      await orm.em.fork().upsert(TenantEntity, { id, name: id, createdAt: new Date() }, { onConflictAction: "ignore" });
    },

    list(filter) {
      const where: FilterQuery<User> = {};
      if (filter.tenantId !== undefined) where.tenant = filter.tenantId;
      if (filter.email !== undefined) Object.assign(where, { [sql.lower("email")]: filter.email });
      if (filter.afterId !== undefined) where.id = { $gt: filter.afterId };
      return orm.em.fork().find(UserEntity, where, { orderBy: { id: "asc" }, limit: filter.limit });
    },

    update(id, changesOf, alsoInTransaction) {
      return orm.em.fork().transactional(async (em) => {
        const user = await em.findOne(UserEntity, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
        if (!user) return null;
        const before: UserRights = { tenantId: user.tenant.id, scopes: [...user.scopes], bannedUntil: user.bannedUntil };
        const changes = changesOf({ ...before, userMetadata: user.userMetadata });
        if (changes.tenantId !== undefined) user.tenant = em.getReference(TenantEntity, changes.tenantId);
        if (changes.scopes !== undefined) user.scopes = [...changes.scopes];
        if (changes.bannedUntil !== undefined) user.bannedUntil = changes.bannedUntil;
        if (changes.passwordHash !== undefined) user.passwordHash = changes.passwordHash;
        if (changes.userMetadata !== undefined) user.userMetadata = changes.userMetadata;
        if (changes.appMetadata !== undefined) user.appMetadata = changes.appMetadata;
        user.updatedAt = new Date();
        await em.flush();
        const update = { before, user };
        await alsoInTransaction?.(em, update);
        return update;
      });
    },

    async remove(id) {
      return (await orm.em.fork().nativeDelete(UserEntity, { id })) > 0;
    },
  };
}
