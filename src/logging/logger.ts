import { pino, type Logger } from "pino";
import type { LogLevel } from "../config/config.js";
import { requestIdMixin } from "./request-scope.js";

/** The process logger type. */
export type { Logger };

/**
 * Creates the JSON logger. Every line logged while a request is served carries its `reqId`.
 * Credentials never reach it: request lines carry the path without its query string (where an
 * `apikey` may be), and these paths are censored should a header object ever be logged. Without a
 * `destination`, lines go to stdout asynchronously, at most 100 ms after they are logged.
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
    // Buffered, asynchronous stdout: lines leave in writes of at least 4 KiB, or every 100 ms, so a
    // busy server pays neither a system call nor a threadpool round trip per request line. pino
    // flushes what is left on exit.
    destination ?? pino.destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: 100 }),
  );
}
