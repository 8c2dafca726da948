import type { LogContext, Logger as OrmLogger, LoggerNamespace, LoggerOptions } from "@mikro-orm/core";
import type { Logger } from "../logging/logger.js";

/**
 * Creates a MikroORM `loggerFactory` that writes to our logger: errors and warnings (including
 * deprecations) always, everything else at debug level and only for the namespaces MikroORM's
 * debug mode enables (off by default). Queries are never logged unless debug mode names them.
 */
export function createOrmLoggerFactory(logger: Logger): (options: LoggerOptions) => OrmLogger {
  const log = logger.child({ component: "mikro-orm" });
  return (options) => new PinoOrmLogger(log, options.debugMode ?? false);
}

class PinoOrmLogger implements OrmLogger {
  constructor(
    private readonly logger: Logger,
    private debugMode: boolean | LoggerNamespace[],
  ) {}

  log(namespace: string, message: string, context?: LogContext): void {
    if (context?.level === "error") this.logger.error({ namespace }, message);
    else if (context?.level === "warning" || namespace === "deprecated") this.logger.warn({ namespace }, message);
    else if (this.isEnabled(namespace as LoggerNamespace, context)) this.logger.debug({ namespace }, message);
  }

  error(namespace: string, message: string, context?: LogContext): void {
    this.log(namespace, message, { ...context, level: "error" });
  }

  warn(namespace: string, message: string, context?: LogContext): void {
    this.log(namespace, message, { ...context, level: "warning" });
  }

  logQuery(context: LogContext): void {
    if (!this.isEnabled("query", context)) return;
    this.logger.debug({ namespace: "query", took: context.took, results: context.results }, context.query ?? "");
  }

  setDebugMode(debugMode: boolean | LoggerNamespace[]): void {
    this.debugMode = debugMode;
  }

  isEnabled(namespace: LoggerNamespace, context?: LogContext): boolean {
    if (context?.enabled !== undefined) return context.enabled;
    const debugMode = context?.debugMode ?? this.debugMode;
    return Array.isArray(debugMode) ? debugMode.includes(namespace) : debugMode;
  }
}
