import pg from "pg";
import { QueryService, type QueryRequest } from "../../gen/helios/query/v1/query_pb.js";
import { principalOf } from "../auth/principal.js";
import type { QueryConfig } from "../config/config.js";
import type { Storage } from "../db/storage.js";
import { apiError } from "../errors/catalogue.js";
import type { Logger } from "../logging/logger.js";
import type { PoolStats } from "../server/metrics.js";
import type { ServiceModule } from "../server/request-handler.js";
import type { HandlerContext } from "@connectrpc/connect";
import { authenticatorUrl, deriveAuthenticatorPassword } from "./authenticator.js";
import { setupDatabaseRoles } from "./database-roles.js";
import { createQueryExecutor, executorReasons, type QueryExecutor } from "./executor.js";
import { fromProtoValue, toQueryResponse } from "./to-proto.js";

/** A read query without SQL: GET has no body, so say where its SQL goes. */
const sqlRequiredOnGet =
  "sql is required: GET /api/v1/query takes it as the query parameter ?sql=... (URL-encoded), " +
  "its values as ?params= (a JSON array, URL-encoded); POST takes both in a JSON body";

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
  // Set-up wants PostgreSQL itself when it can have it (it also works through a transaction pooler:
  // single statements and one transaction).
  const owner = new pg.Client({ connectionString: deps.storage.sessionUrl ?? deps.storage.ownerUrl });
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
    preparedStatements: deps.storage.pooler === "none",
  });

  const run = async (request: QueryRequest, context: HandlerContext, readOnly: boolean) => {
    if (request.sql.trim() === "") throw apiError("validation_failed", readOnly ? sqlRequiredOnGet : "sql is required");
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
    errorReasons: new Map([QueryService.method.query, QueryService.method.readQuery].map((method) => [method, executorReasons])),
    executor,
    poolStats: () => executor.poolStats(),
    close: () => executor.close(),
  };
}
