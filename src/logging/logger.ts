import { pino, type DestinationStream, type Logger } from "pino";
import pinoPretty from "pino-pretty";
import type { LogFormat, LogLevel } from "../config/config.js";
import { createBatchedOutput } from "./batched-output.js";
import { requestIdMixin } from "./request-scope.js";

/** The process logger type. */
export type { Logger };

/**
 * Creates the JSON logger. Every line logged while a request is served carries its `reqId`.
 * Credentials never reach it: request lines carry the path without its query string (where an
 * `apikey` may be), and these paths are censored should a header object ever be logged. Without a
 * `destination`, lines go to stdout asynchronously, in batches, at most 100 ms after they are logged. The
 * `pretty` format writes readable lines instead (time, level name, message, then the other fields;
 * coloured on a terminal), for people watching a terminal.
 */
export function createLogger(level: LogLevel, destination?: NodeJS.WritableStream, format: LogFormat = "json"): Logger {
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
    format === "pretty"
      ? prettyStream(destination)
      : (destination ?? stdoutInBatches()),
  );
}

/**
 * Buffered, asynchronous stdout: lines leave in writes of 16 Ki characters, or every 100 ms, so a
 * busy server pays neither a system call nor a threadpool round trip per request line; what is
 * left is written when the process exits.
 */
function stdoutInBatches(): DestinationStream {
  const output = createBatchedOutput({ fd: 1 });
  process.once("exit", () => output.flushSync());
  return output;
}

/** The format for the process's stdout when none is chosen: pretty on a terminal, JSON otherwise. */
export function defaultLogFormat(stdout: { isTTY?: boolean } = process.stdout): LogFormat {
  return stdout.isTTY === true ? "pretty" : "json";
}

/**
 * pino-pretty in-process (no worker thread), one line an entry (its other fields as JSON after the
 * message), written synchronously: a terminal's pace is a person's.
 */
function prettyStream(destination: NodeJS.WritableStream | undefined): DestinationStream {
  return pinoPretty({
    destination: destination ?? 1,
    sync: true,
    colorize: destination === undefined && process.stdout.isTTY === true,
    translateTime: "SYS:yyyy-mm-dd HH:MM:ss.l",
    ignore: "pid,hostname,service",
    singleLine: true,
  });
}
