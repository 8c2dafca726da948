import { pino, type Logger } from "pino";
import type { LogLevel } from "../config/config.js";
import { requestIdMixin } from "./request-scope.js";

/** The process logger type. */
export type { Logger };

/**
 * Creates the JSON logger. Every line logged while a request is served carries its `reqId`.
 * Credentials never reach it: request lines carry the path without its query string (where an
 * `apikey` may be), and these paths are censored should a header object ever be logged.
 */
export function createLogger(level: LogLevel, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service: "heliosdb-nano" },
      mixin: requestIdMixin,
      redact: {
        paths: [
          "req.headers.authorization",
          'req.headers["x-api-key"]',
          "req.headers.apikey",
          "password",
          "*.password",
          "refresh_token",
          "*.refresh_token",
          "access_token",
          "*.access_token",
        ],
        censor: "[redacted]",
      },
    },
    destination ?? process.stdout,
  );
}
