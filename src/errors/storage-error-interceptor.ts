import { ConnectError, type Interceptor } from "@connectrpc/connect";
import { storageErrorFields } from "../db/error-log-fields.js";
import { isStorageUnavailableError } from "../db/storage-errors.js";
import type { Logger } from "../logging/logger.js";
import { apiError } from "./catalogue.js";

/** Seconds a client is asked to wait before retrying while storage is unreachable. */
const retryAfterSeconds = "1";

/**
 * Turns a lost or unreachable database into `storage_unavailable` (503, retryable, with
 * `Retry-After`), wherever in a call it surfaced: the session check, a store, the rate limiter. Sits
 * inside the error boundary, which would otherwise answer `internal_error`. Catalogue errors pass.
 * The log line carries the SQLSTATE or socket error code, never the driver's message.
 */
export function createStorageErrorInterceptor(logger: Pick<Logger, "warn">): Interceptor {
  return (next) => async (req) => {
    try {
      return await next(req);
    } catch (error) {
      if (error instanceof ConnectError || !isStorageUnavailableError(error)) throw error;
      logger.warn({ rpc: `${req.service.typeName}/${req.method.name}`, ...storageErrorFields(error) }, "storage unavailable");
      throw apiError("storage_unavailable", undefined, { headers: { "retry-after": retryAfterSeconds }, cause: error });
    }
  };
}
