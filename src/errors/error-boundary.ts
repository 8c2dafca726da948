import { ConnectError, type Interceptor } from "@connectrpc/connect";
import { sqlStateOf, storageErrorFields } from "../db/error-log-fields.js";
import type { Logger } from "../logging/logger.js";
import { apiError } from "./catalogue.js";

/**
 * Turns anything a handler throws that is not a catalogue error into `internal_error`, logging the
 * cause server-side only: clients never see stack traces or driver messages. Database errors are
 * logged by SQLSTATE and class only, never by message.
 */
export function createErrorBoundary(logger: Logger): Interceptor {
  return (next) => async (req) => {
    try {
      return await next(req);
    } catch (error) {
      if (error instanceof ConnectError) throw error;
      const rpc = `${req.service.typeName}/${req.method.name}`;
      // A database error's message can quote the statement's values (see error-log-fields.ts).
      if (sqlStateOf(error)) logger.error({ rpc, ...storageErrorFields(error) }, "database error in handler");
      else logger.error({ err: error, rpc }, "unhandled error in handler");
      throw apiError("internal_error", undefined, { cause: error });
    }
  };
}
