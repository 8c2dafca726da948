import type { ConnectError } from "@connectrpc/connect";
import { apiError } from "../errors/catalogue.js";
import type { NodeServerRequest } from "./node-types.js";

/**
 * Reads a request body up to `maxBytes`. Answers "too_large" as soon as the limit is passed and
 * drains the rest without keeping it, so an oversized upload costs no memory and the error response
 * can still be written on the same connection.
 */
export function readBody(req: NodeServerRequest, maxBytes: number): Promise<Buffer | "too_large"> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        cleanup();
        req.on("data", () => {});
        resolve("too_large");
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
  });
}

/** The `payload_too_large` answer for a body past `maxBytes`, naming the limit and its flag. */
export function bodyTooLarge(maxBytes: number): ConnectError {
  return apiError("payload_too_large", `Request body is larger than the limit of ${maxBytes} bytes (--max-body-bytes)`, {
    metadata: { limit: String(maxBytes) },
  });
}
