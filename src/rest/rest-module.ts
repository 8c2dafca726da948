import type { RestConfig } from "../config/config.js";
import type { QueryExecutor } from "../query/executor.js";
import type { HttpRoute } from "../server/request-handler.js";
import { createRestRoute } from "./rest-route.js";
import { createCatalogueCache } from "./schema-catalogue.js";

/** `/rest/v1`, served by its route. */
export interface RestModule {
  route: HttpRoute;
}

/**
 * Builds `/rest/v1` over `executor`, the query executor every data API shares: catalogues are
 * read through it as the caller's role and forgotten as soon as it commits DDL.
 */
export function createRestModule(deps: {
  executor: QueryExecutor;
  config: RestConfig;
  /** The query row cap: the most rows one answer or embedded array carries. */
  rowCap: number;
  maxBodyBytes: number;
}): RestModule {
  const catalogue = createCatalogueCache({ executor: deps.executor });
  deps.executor.onSchemaChange(() => catalogue.forget());
  const route = createRestRoute({
    executor: deps.executor,
    catalogue,
    limits: { ...deps.config, maxRows: deps.rowCap, maxBodyBytes: deps.maxBodyBytes },
  });
  return { route };
}
