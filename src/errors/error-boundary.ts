import { ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "../logging/logger.js";
import { apiError } from "./catalogue.js";

/**
 * Turns anything a handler throws that is not a catalogue error into `internal_error`, logging the
 * cause server-side only: clients never see stack traces or driver messages.
 */
export function createErrorBoundary(logger: Logger): Interceptor {
  return (next) => async (req) => {
    try {
      return await next(req);
    } catch (error) {
      if (error instanceof ConnectError) throw error;
      logger.error({ err: error, rpc: `${req.service.typeName}/${req.method.name}` }, "unhandled error in handler");
      throw apiError("internal_error", undefined, { cause: error });
    }
  };
}
