import { write, writeSync } from "node:fs";

/** Options of {@link createBatchedOutput}. */
export interface BatchedOutputOptions {
  /** The file descriptor lines go to (1: stdout). */
  fd: number;
  /** Characters pending before a write starts; default 16 Ki. */
  batchChars?: number;
  /** The longest a line waits for its write, in ms; default 100. */
  flushIntervalMs?: number;
  /**
   * Characters held while the output does not keep up (a slow reader of a pipe); lines beyond are
   * dropped and counted, and a line saying how many goes out with the next write. Default 8 Mi.
   */
  maxPendingChars?: number;
}

/** A pino destination that writes lines in batches, one write in flight at a time. */
export interface BatchedOutput {
  /** Queues one line (with its newline); false when it was dropped. */
  write(line: string): boolean;
  /** Writes what is queued now, synchronously (on exit); a batch already handed to the kernel is not repeated. */
  flushSync(): void;
}

const waitCell = new Int32Array(new SharedArrayBuffer(4));

/**
 * Creates the process's log output. Lines are queued as strings and joined into one write when
 * `batchChars` are pending or `flushIntervalMs` have passed, asynchronously (a slow reader never
 * blocks the event loop); what is queued is flushed synchronously when the process exits.
 *
 * Why not pino's own `pino.destination` (sonic-boom): its `write` measures the byte length of the
 * pending chunk on every line, and that chunk is a string grown by `+=`, so every line flattens and
 * copies everything pending. Under load, while a write is in flight, that is up to 16 KiB copied
 * per line. Measured on the bench's one-row query (median server CPU per request, access lines
 * switched on and off every 3 s in one run): 292 µs with sonic-boom and 254 µs without access lines;
 * 243 µs with this queue against 234 µs without.
 */
export function createBatchedOutput(options: BatchedOutputOptions): BatchedOutput {
  const { fd } = options;
  const batchChars = options.batchChars ?? 16 * 1024;
  const maxPendingChars = options.maxPendingChars ?? 8 * 1024 * 1024;
  let pending: string[] = [];
  let pendingChars = 0;
  let dropped = 0;
  let writing = false;

  /** Takes everything queued (with the note of dropped lines first) as one buffer. */
  const takePending = (): Buffer => {
    if (dropped > 0) {
      pending.unshift(`${JSON.stringify({ level: 40, time: Date.now(), dropped, msg: "log lines dropped: the output did not keep up" })}\n`);
      dropped = 0;
    }
    const data = Buffer.from(pending.join(""), "utf8");
    pending = [];
    pendingChars = 0;
    return data;
  };

  const writeFrom = (data: Buffer, offset: number): void => {
    write(fd, data, offset, data.length - offset, null, (error, written) => {
      if (error?.code === "EAGAIN") {
        setTimeout(() => writeFrom(data, offset), 10).unref();
        return;
      }
      // Any other error (EPIPE: nobody reads any more) loses this batch; the next one tries again.
      if (!error && offset + written < data.length) {
        writeFrom(data, offset + written);
        return;
      }
      writing = false;
      if (pendingChars >= batchChars) startWrite();
    });
  };

  const startWrite = (): void => {
    if (writing || pending.length === 0) return;
    writing = true;
    writeFrom(takePending(), 0);
  };

  setInterval(startWrite, options.flushIntervalMs ?? 100).unref();

  return {
    write(line) {
      if (pendingChars + line.length > maxPendingChars) {
        dropped += 1;
        return false;
      }
      pending.push(line);
      pendingChars += line.length;
      if (pendingChars >= batchChars) startWrite();
      return true;
    },
    flushSync() {
      if (pending.length === 0 && dropped === 0) return;
      const data = takePending();
      let offset = 0;
      // A non-blocking pipe may be full: wait for its reader, up to ~1 s.
      for (let attempt = 0; offset < data.length && attempt < 100; ) {
        try {
          offset += writeSync(fd, data, offset, data.length - offset);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== "EAGAIN") return;
          attempt += 1;
          Atomics.wait(waitCell, 0, 0, 10);
        }
      }
    },
  };
}
