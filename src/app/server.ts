import { createAdminModule } from "../admin/admin-module.js";
import { createAuthModule } from "../auth/auth-module.js";
import { createCredentialsInterceptor, credentialReasons } from "../auth/credentials-interceptor.js";
import { startInvalidationBus } from "../auth/invalidation-bus.js";
import { createPostgresRateLimiter } from "../auth/postgres-rate-limiter.js";
import type { Config } from "../config/config.js";
import { resolveSigningKeys } from "../config/jwt-keys.js";
import { resolveJwtSecret } from "../config/jwt-secret.js";
import { ormPoolStats } from "../db/pool-stats.js";
import { openStorage, type Storage } from "../db/storage.js";
import { createErrorBoundary } from "../errors/error-boundary.js";
import { createStorageErrorInterceptor } from "../errors/storage-error-interceptor.js";
import type { Logger } from "../logging/logger.js";
import { listen } from "../server/listener.js";
import { createMetrics } from "../server/metrics.js";
import { assertPortFree } from "../server/port-check.js";
import { createNulTextInterceptor } from "../server/nul-text-interceptor.js";
import { createQueryModule } from "../query/query-module.js";
import { createSchemaModule } from "../schema/schema-module.js";
import { createRequestHandler } from "../server/request-handler.js";
import { createRestModule } from "../rest/rest-module.js";
import { createRequestScopeInterceptor } from "../server/request-observer.js";
import { createServingState } from "../server/serving-state.js";

/** A started server. */
export interface RunningServer {
  /** Base URL, e.g. `http://127.0.0.1:6543`. */
  readonly url: string;
  readonly port: number;
  readonly storage: Storage;
  /**
   * Fails readiness (`/ready` 503, gRPC health NOT_SERVING), stops accepting, lets in-flight requests
   * finish (bounded by the shutdown timeout), then closes the pools and storage. Idempotent.
   */
  close(): Promise<void>;
}

/**
 * Checks that the configured port is free, then opens storage and starts serving every protocol on it. Instances sharing a
 * database (`--database-url`) share rate limits through it, and every instance listens for the
 * database's cache invalidations, so changes made anywhere reach it as they commit.
 */
export async function startServer(config: Config, logger: Logger): Promise<RunningServer> {
  await assertPortFree(config.host, config.port);
  const storage = await openStorage({
    dataDir: config.dataDir,
    databaseUrl: config.databaseUrl,
    directDatabaseUrl: config.directDatabaseUrl,
    pooler: config.pooler,
    logger,
  });
  let closeQuery: (() => Promise<void>) | undefined;
  let closeBus: (() => Promise<void>) | undefined;
  try {
    const jwtSecret = await resolveJwtSecret({ configured: config.auth.jwtSecret, mode: storage.mode, dataDir: config.dataDir });
    const keyRing = await resolveSigningKeys({ config: config.auth, mode: storage.mode, dataDir: config.dataDir });
    const metrics = createMetrics();
    // Embedded storage serves one instance, whose limits can stay in memory.
    const rateLimiter = storage.mode === "external" ? createPostgresRateLimiter({ orm: storage.orm, logger }) : undefined;
    const auth = await createAuthModule({ config: config.auth, jwtSecret, keyRing, orm: storage.orm, logger, rateLimiter, events: metrics.auth });
    const admin = createAdminModule({ orm: storage.orm, accounts: auth.accounts, defaultTenant: config.auth.defaultTenant, logger });
    const query = await createQueryModule({ config: config.query, storage, jwtSecret, logger });
    closeQuery = () => query.close();
    const rest = createRestModule({ executor: query.executor, config: config.rest, rowCap: config.query.rowCap, maxBodyBytes: config.maxBodyBytes });
    const bus = storage.sessionUrl
      ? await startInvalidationBus({
          url: storage.sessionUrl,
          targets: auth.invalidation,
          logger: logger.child({ component: "invalidation" }),
          onReceived: (kind) => metrics.invalidationReceived(kind),
        })
      : undefined;
    if (!bus) {
      logger.warn(
        { pooler: storage.pooler },
        "--database-url is a transaction-mode connection pooler and no --direct-database-url is set: no LISTEN for cache invalidation, so revocations reach this instance through the caches' 1 s lifetime",
      );
    }
    closeBus = () => bus?.close() ?? Promise.resolve();
    metrics.trackListener(() => bus?.listening ?? false);
    metrics.trackPool("auth", () => ormPoolStats(storage.orm));
    metrics.trackPool("query", () => query.poolStats());
    const serving = createServingState(() => storage.ping());
    const handler = createRequestHandler({
      modules: [
        auth,
        query,
        admin,
        createSchemaModule({ executor: query.executor, config: config.schema }),
      ],
      interceptors: [
        createRequestScopeInterceptor(),
        createErrorBoundary(logger),
        createStorageErrorInterceptor(logger),
        createNulTextInterceptor(),
        createCredentialsInterceptor({
          verifier: auth.verifier,
          publicMethods: auth.publicMethods,
          revokedSessionMethods: auth.revokedSessionMethods,
        }),
      ],
      interceptorReasons: { any: [...credentialReasons.any, "storage_unavailable"], authenticated: credentialReasons.authenticated },
      maxBodyBytes: config.maxBodyBytes,
      routes: [rest.route],
      cors: config.cors,
      logger,
      serving,
      metrics,
    });
    const listener = await listen({
      host: config.host,
      port: config.port,
      tls: config.tls,
      handler,
      limits: config.connections,
      events: metrics.connections,
      logger,
    });
    const scheme = config.tls ? "https" : "http";
    const host = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host;
    let closing: Promise<void> | undefined;
    return {
      url: `${scheme}://${host.includes(":") ? `[${host}]` : host}:${listener.port}`,
      port: listener.port,
      storage,
      close() {
        closing ??= (async () => {
          serving.beginShutdown();
          await listener.close(config.shutdownTimeoutMs);
          await bus?.close();
          await query.close();
          await storage.close();
        })();
        return closing;
      },
    };
  } catch (error) {
    await closeBus?.();
    await closeQuery?.();
    await storage.close();
    throw error;
  }
}
