import { createAdminModule } from "../admin/admin-module.js";
import { createAuthModule } from "../auth/auth-module.js";
import { createCredentialsInterceptor } from "../auth/credentials-interceptor.js";
import type { Config } from "../config/config.js";
import { resolveJwtSecret } from "../config/jwt-secret.js";
import { openStorage, type Storage } from "../db/storage.js";
import { createErrorBoundary } from "../errors/error-boundary.js";
import type { Logger } from "../logging/logger.js";
import { listen } from "./listener.js";
import { createQueryModule } from "../query/query-module.js";
import { createRequestHandler } from "./request-handler.js";

/** A started server. */
export interface RunningServer {
  /** Base URL, e.g. `http://127.0.0.1:6543`. */
  readonly url: string;
  readonly port: number;
  readonly storage: Storage;
  /** Fails readiness, drains in-flight requests (bounded), then closes storage. Idempotent. */
  close(): Promise<void>;
}

/** Opens storage and starts serving every protocol on the configured port. */
export async function startServer(config: Config, logger: Logger): Promise<RunningServer> {
  const storage = await openStorage({ dataDir: config.dataDir, databaseUrl: config.databaseUrl, logger });
  let closeQuery: (() => Promise<void>) | undefined;
  try {
    const jwtSecret = await resolveJwtSecret({ configured: config.auth.jwtSecret, mode: storage.mode, dataDir: config.dataDir });
    const auth = await createAuthModule({ config: config.auth, jwtSecret, orm: storage.orm, logger });
    const admin = createAdminModule({ orm: storage.orm, accounts: auth.accounts, defaultTenant: config.auth.defaultTenant, logger });
    const query = await createQueryModule({ config: config.query, storage, jwtSecret, logger });
    closeQuery = () => query.close();
    let shuttingDown = false;
    const handler = createRequestHandler({
      modules: [
        auth,
        query,
        admin,
      ],
      interceptors: [
        createErrorBoundary(logger),
        createCredentialsInterceptor({
          verifier: auth.verifier,
          publicMethods: auth.publicMethods,
          revokedSessionMethods: auth.revokedSessionMethods,
        }),
      ],
      maxBodyBytes: config.maxBodyBytes,
      cors: config.cors,
      logger,
      ready: async () => {
        if (shuttingDown) return { ready: false, reason: "shutting down" };
        return (await storage.ping()) ? { ready: true } : { ready: false, reason: "storage unreachable" };
      },
    });
    const listener = await listen({ host: config.host, port: config.port, tls: config.tls, handler });
    const scheme = config.tls ? "https" : "http";
    const host = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host;
    let closing: Promise<void> | undefined;
    return {
      url: `${scheme}://${host.includes(":") ? `[${host}]` : host}:${listener.port}`,
      port: listener.port,
      storage,
      close() {
        closing ??= (async () => {
          shuttingDown = true;
          await listener.close(config.shutdownTimeoutMs);
          await query.close();
          await storage.close();
        })();
        return closing;
      },
    };
  } catch (error) {
    await closeQuery?.();
    await storage.close();
    throw error;
  }
}
