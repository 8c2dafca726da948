import pg from "pg";
import { QueryResponseSchema, QueryService, type QueryRequest } from "../../gen/helios/query/v1/query_pb.js";
import { principalOf } from "../auth/principal.js";
import type { QueryConfig } from "../config/config.js";
import type { Storage } from "../db/storage.js";
import { apiError } from "../errors/catalogue.js";
import type { Logger } from "../logging/logger.js";
import type { PoolStats } from "../server/metrics.js";
import type { ServiceModule } from "../server/request-handler.js";
import { restEncoder } from "../server/rest-gateway.js";
import type { HandlerContext } from "@connectrpc/connect";
import { authenticatorUrl, deriveAuthenticatorPassword } from "./authenticator.js";
import { setupDatabaseRoles } from "./database-roles.js";
import { createQueryExecutor, type QueryExecutor } from "./executor.js";
import { fromProtoValue, queryResponseJson, toQueryResponse } from "./to-proto.js";

/** QueryService, with the pool it owns. */
export interface QueryModule extends ServiceModule {
  /** The executor behind QueryService, for the other data APIs (one path to the database). */
  readonly executor: QueryExecutor;
  /** Connections of the query pool now, or undefined once it is closed. */
  poolStats(): PoolStats | undefined;
  /** Closes the query pool. */
  close(): Promise<void>;
}

/**
 * Builds QueryService: makes sure the query roles, privileges and tenancy policies are in place
 * (as the schema owner), then serves statements through an executor that logs in as the
 * least-privileged `helios_authenticator`.
 */
export async function createQueryModule(deps: {
  config: QueryConfig;
  storage: Storage;
  jwtSecret: string;
  logger: Logger;
}): Promise<QueryModule> {
  const logger = deps.logger.child({ component: "query" });
  const password = deriveAuthenticatorPassword(deps.jwtSecret);
  const owner = new pg.Client({ connectionString: deps.storage.ownerUrl });
  await owner.connect();
  try {
    await setupDatabaseRoles(owner, { authenticatorPassword: password, logger });
  } finally {
    await owner.end();
  }
  const executor = await createQueryExecutor({
    authenticatorUrl: authenticatorUrl(deps.storage.ownerUrl, password),
    config: deps.config,
    logger,
  });

  const run = async (request: QueryRequest, context: HandlerContext, readOnly: boolean) => {
    if (request.sql.trim() === "") throw apiError("validation_failed", "sql is required");
    const result = await executor.execute({
      principal: principalOf(context),
      sql: request.sql,
      params: request.params.map(fromProtoValue),
      readOnly,
      tenantOverride: context.requestHeader.get("x-tenant-id") ?? undefined,
      arrayMode: request.arrayMode,
    });
    return toQueryResponse(result);
  };

  return {
    services: [QueryService],
    register: (router) =>
      router.service(QueryService, {
        query: (request, context) => run(request, context, false),
        readQuery: (request, context) => run(request, context, true),
      }),
    restEncoders: [restEncoder(QueryResponseSchema, queryResponseJson)],
    executor,
    poolStats: () => executor.poolStats(),
    close: () => executor.close(),
  };
}
