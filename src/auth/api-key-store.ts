import { UniqueConstraintViolationException, type FilterQuery } from "@mikro-orm/core";
import type { MikroORM } from "@mikro-orm/postgresql";
import { ApiKeyEntity, type ApiKey } from "../db/entities/api-key.js";
import { generateApiKey } from "./api-key-format.js";
import type { Scope } from "./principal.js";

/** A key to create. */
export interface NewApiKey {
  name: string;
  tenantId: string;
  scopes: readonly Scope[];
  /** Lifetime in seconds; undefined or 0 never expires. */
  expiresInSeconds?: number;
  /** `user:<id>`, `api_key:<id>` or `cli`. */
  createdBy: string;
}

/** A key just created: its record and the whole key, which exists in clear only here. */
export interface CreatedApiKey {
  record: ApiKey;
  key: string;
}

/** What the verifier needs to know about a key, read on the database's clock. */
export interface ApiKeyLookup {
  id: string;
  tenantId: string;
  scopes: Scope[];
  hash: Buffer;
  revoked: boolean;
  /** Milliseconds until expiry (0 once expired), or null when the key never expires. */
  expiresInMs: number | null;
  /** Whether `last_used_at` is older than the touch interval (or unset). */
  touchDue: boolean;
}

/** Filter of {@link ApiKeyStore.list}. */
export interface ApiKeyFilter {
  tenantId?: string;
  includeRevoked?: boolean;
}

/** API keys of the `auth` schema. */
export interface ApiKeyStore {
  /**
   * Creates a key. Throws an error that `isUnknownTenantError` (user-store) recognises when the tenant does
   * not exist.
   */
  create(input: NewApiKey): Promise<CreatedApiKey>;
  /** Keys matching `filter`, newest first. */
  list(filter: ApiKeyFilter): Promise<ApiKey[]>;
  /** Revokes the key `id` unless it already is; the key afterwards, or undefined when there is none. */
  revoke(id: string): Promise<ApiKey | undefined>;
  /** The verifier's view of key `id`, or undefined when there is none. */
  lookup(id: string): Promise<ApiKeyLookup | undefined>;
  /** Records a use of key `id`, unless one was recorded within the touch interval. */
  touch(id: string): Promise<void>;
}

/** Options of {@link createApiKeyStore}. */
export interface ApiKeyStoreOptions {
  /** Seconds between two recorded uses of one key; default 60. */
  touchIntervalSeconds?: number;
}

const lookupSql = `
  select id, tenant_id, scopes, hash, revoked_at is not null as revoked,
         case when expires_at is null then null
              else greatest(0, extract(epoch from expires_at - clock_timestamp()) * 1000)::float8 end as expires_in_ms,
         coalesce(last_used_at < clock_timestamp() - make_interval(secs => ?), true) as touch_due
  from auth.api_keys where id = ?`;

const touchSql = `
  update auth.api_keys set last_used_at = clock_timestamp()
  where id = ? and coalesce(last_used_at < clock_timestamp() - make_interval(secs => ?), true)`;

interface LookupRow {
  id: string;
  tenant_id: string;
  scopes: Scope[];
  hash: Buffer;
  revoked: boolean;
  expires_in_ms: number | null;
  touch_due: boolean;
}

/** Attempts at a fresh random id when one is taken (about one in 10^12 per existing key). */
const idAttempts = 3;

/** Creates the PostgreSQL {@link ApiKeyStore}. */
export function createApiKeyStore(orm: MikroORM, options: ApiKeyStoreOptions = {}): ApiKeyStore {
  const touchInterval = options.touchIntervalSeconds ?? 60;
  return {
    async create(input) {
      for (let attempt = 1; ; attempt++) {
        const generated = generateApiKey();
        const now = new Date();
        const em = orm.em.fork();
        const record = em.create(ApiKeyEntity, {
          id: generated.id,
          name: input.name,
          tenant: input.tenantId,
          scopes: [...input.scopes],
          hash: generated.hash,
          createdAt: now,
          createdBy: input.createdBy,
          expiresAt: input.expiresInSeconds ? new Date(now.getTime() + input.expiresInSeconds * 1000) : null,
          lastUsedAt: null,
          revokedAt: null,
        });
        try {
          await em.flush();
          return { record, key: generated.key };
        } catch (error) {
          if (!(error instanceof UniqueConstraintViolationException) || attempt === idAttempts) throw error;
        }
      }
    },

    list(filter) {
      const where: FilterQuery<ApiKey> = {};
      if (filter.tenantId) where.tenant = filter.tenantId;
      if (!filter.includeRevoked) where.revokedAt = null;
      return orm.em.fork().find(ApiKeyEntity, where, { orderBy: { createdAt: "desc", id: "asc" } });
    },

    async revoke(id) {
      const em = orm.em.fork();
      await em.nativeUpdate(ApiKeyEntity, { id, revokedAt: null }, { revokedAt: new Date() });
      return (await em.findOne(ApiKeyEntity, { id })) ?? undefined;
    },

    async lookup(id) {
      const [row] = await orm.em.getConnection().execute<LookupRow[]>(lookupSql, [touchInterval, id]);
      if (!row) return undefined;
      return {
        id: row.id,
        tenantId: row.tenant_id,
        scopes: row.scopes,
        hash: row.hash,
        revoked: row.revoked,
        expiresInMs: row.expires_in_ms === null ? null : Number(row.expires_in_ms),
        touchDue: row.touch_due,
      };
    },

    async touch(id) {
      await orm.em.getConnection().execute(touchSql, [id, touchInterval], "run");
    },
  };
}
