import pg from "pg";
import type { Logger } from "../logging/logger.js";

/** Options of {@link startNotifyListener}. */
export interface NotifyListenerOptions {
  /** Connection URL of the database to listen on. Never logged. */
  url: string;
  /** Channel name: a plain lower-case identifier. */
  channel: string;
  logger: Pick<Logger, "info" | "warn">;
  /** Called with the payload of every notification on the channel. */
  onNotification(payload: string): void;
  /**
   * Called after every successful LISTEN, the first included. Notifications sent while no connection
   * listened are lost, so this is where a consumer drops whatever those could have invalidated.
   */
  onListening?(): void;
  /** First delay before reconnecting, in milliseconds; doubled per failed attempt. Default 100. */
  initialBackoffMs?: number;
  /** Longest delay between reconnection attempts, in milliseconds. Default 5000. */
  maxBackoffMs?: number;
  /**
   * How often the connection is probed, in milliseconds, so that a silently dead one (a cut
   * network, a frozen server) is noticed and replaced. Default 5000.
   */
  heartbeatMs?: number;
  /** Bound of connecting and of each probe, in milliseconds. Default 5000. */
  timeoutMs?: number;
}

/** A connection listening on one channel, replaced whenever it is lost. */
export interface NotifyListener {
  /** Whether a connection is listening right now. */
  readonly listening: boolean;
  /** Times a connection started listening, the first included. */
  readonly connections: number;
  /** Stops listening and reconnecting. Idempotent. */
  close(): Promise<void>;
}

const identifier = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Starts listening on `channel` over a dedicated connection (LISTEN needs a session of its own, so
 * it cannot share the pool). When the connection fails, errs, or misses a heartbeat, it is dropped
 * and replaced with exponential backoff (with jitter) until {@link NotifyListener.close}. Resolves
 * after the first attempt, whether or not it succeeded: a database that is down at start is
 * retried in the background like one that goes down later.
 */
export async function startNotifyListener(options: NotifyListenerOptions): Promise<NotifyListener> {
  const { url, channel, logger } = options;
  if (!identifier.test(channel)) throw new Error(`invalid channel name ${JSON.stringify(channel)}`);
  const initialBackoffMs = options.initialBackoffMs ?? 100;
  const maxBackoffMs = options.maxBackoffMs ?? 5000;
  const heartbeatMs = options.heartbeatMs ?? 5000;
  const timeoutMs = options.timeoutMs ?? 5000;

  let client: pg.Client | undefined;
  let closed = false;
  let failures = 0;
  let connections = 0;
  let retry: NodeJS.Timeout | undefined;
  let heartbeat: NodeJS.Timeout | undefined;

  function drop(lost: pg.Client, reason: string): void {
    if (client !== lost) return;
    client = undefined;
    clearInterval(heartbeat);
    logger.warn({ channel, reason }, "lost the notification listener connection; reconnecting");
    // end() waits for the server, which may never answer; nothing waits on it.
    lost.end().catch(() => undefined);
    scheduleReconnect();
  }

  function scheduleReconnect(): void {
    if (closed) return;
    const delay = Math.min(maxBackoffMs, initialBackoffMs * 2 ** failures) * (0.5 + Math.random() / 2);
    failures++;
    retry = setTimeout(() => void connect(), delay);
    retry.unref();
  }

  async function probe(target: pg.Client): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`heartbeat took longer than ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([target.query("select 1"), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async function connect(): Promise<void> {
    if (closed) return;
    const candidate = new pg.Client({
      connectionString: url,
      connectionTimeoutMillis: timeoutMs,
      keepAlive: true,
      application_name: "heliosdb-nano/notify",
    });
    candidate.on("error", (error) => drop(candidate, error.message));
    candidate.on("end", () => drop(candidate, "connection ended"));
    candidate.on("notification", (message) => {
      if (message.channel === channel) options.onNotification(message.payload ?? "");
    });
    try {
      await candidate.connect();
      await candidate.query(`listen ${channel}`);
    } catch (error) {
      candidate.end().catch(() => undefined);
      if (failures === 0) {
        logger.warn({ channel, error: error instanceof Error ? error.message : String(error) }, "cannot listen for notifications yet; retrying");
      }
      scheduleReconnect();
      return;
    }
    if (closed) {
      await candidate.end().catch(() => undefined);
      return;
    }
    client = candidate;
    failures = 0;
    connections++;
    if (connections > 1) logger.info({ channel }, "notification listener reconnected");
    heartbeat = setInterval(() => {
      probe(candidate).catch((error: unknown) => drop(candidate, error instanceof Error ? error.message : String(error)));
    }, heartbeatMs);
    heartbeat.unref();
    options.onListening?.();
  }

  await connect();
  return {
    get listening() {
      return client !== undefined;
    },
    get connections() {
      return connections;
    },
    async close() {
      if (closed) return;
      closed = true;
      clearTimeout(retry);
      clearInterval(heartbeat);
      const current = client;
      client = undefined;
      if (!current) return;
      // A connection to a server that stopped answering would never finish ending.
      const gaveUp = new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref());
      await Promise.race([current.end().catch(() => undefined), gaveUp]);
    },
  };
}
