import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import type { Reason } from "../errors/catalogue.js";

/** The `domain` of the server's `google.rpc.ErrorInfo` details. */
const errorDomain = "heliosdb.nano";

/**
 * Why a call failed: a reason of the server's error catalogue (the `error` of a REST error body), or
 * `"unknown"` when the failure carried none (the network, a proxy, an aborted call).
 */
export type HeliosErrorReason = Reason | "unknown";

/**
 * A failed call. `reason` is the catalogue reason (`token_expired`, `invalid_credentials`, …), the
 * same on every transport; `code` is the gRPC/Connect status code; `metadata` holds the reason's
 * details, such as `retry_after`.
 */
export class HeliosError extends Error {
  override name = "HeliosError";
  readonly reason: HeliosErrorReason;
  readonly code: Code;
  readonly metadata: Readonly<Record<string, string>>;

  constructor(reason: HeliosErrorReason, code: Code, message: string, options: { metadata?: Record<string, string>; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.reason = reason;
    this.code = code;
    this.metadata = Object.freeze({ ...options.metadata });
  }

  /** Converts anything a call threw into a HeliosError (unchanged when it is one already). */
  static from(error: unknown): HeliosError {
    if (error instanceof HeliosError) return error;
    const connectError = ConnectError.from(error);
    const info = connectError.findDetails(ErrorInfoSchema).find((detail) => detail.domain === errorDomain);
    const reason = info ? (info.reason as Reason) : "unknown";
    return new HeliosError(reason, connectError.code, connectError.rawMessage, {
      metadata: info?.metadata,
      cause: error,
    });
  }
}

export { Code };
