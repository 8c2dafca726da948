import { pino, type Logger } from "pino";
import type { LogLevel } from "../config/config.js";
import { requestIdMixin } from "./request-scope.js";

/** The process logger type. */
export type { Logger };

/**
 * Creates the JSON logger. Every line logged while a request is served carries its `reqId`.
 * Credentials never reach it: request lines carry the path without its query string (where an
 * `apikey` may be), and these paths are censored should a header object ever be logged. Without a
 * `destination`, lines go to stdout asynchronously.
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
    // Asynchronous stdout: lines written while a write is pending leave together in one write, so a
    // busy server does not pay a system call per request line. pino flushes what is left on exit.
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
