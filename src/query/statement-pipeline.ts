import type { ClientBase, Connection, Submittable } from "pg";

/** One statement of a pipeline: its text and text-format parameter values. */
export interface PipelineStatement {
  text: string;
  values: readonly (string | null)[];
  /**
   * Prepare under this name once per connection and reuse it (constant server texts only; the
   * user's statement always goes unnamed).
   */
  name?: string;
}

/** Named statements already prepared, per connection. */
const prepared = new WeakMap<object, Set<string>>();

/** What {@link runPipeline} sends in one round trip. */
export interface PipelineRequest {
  /** Runs first (claims, role, settings); its rows are ignored. */
  setup: PipelineStatement;
  /** The user's statement; described, and executed for at most `maxRows` rows. */
  statement: PipelineStatement;
  /** Further user statements, run after `statement` in the same transaction; their rows are ignored. */
  more?: readonly PipelineStatement[];
  maxRows: number;
  /** Runs last, after the statement succeeded; its rows are ignored. */
  after?: PipelineStatement;
  /** Client-side deadline in ms; when it passes the pipeline fails with a {@link PipelineTimeout}. */
  deadlineMs?: number;
}

/** A column as the RowDescription message describes it. */
export interface FieldInfo {
  name: string;
  dataTypeID: number;
}

/** The raw outcome of the user's statement. */
export interface PipelineOutcome {
  fields: FieldInfo[];
  /** Text-format values, at most `maxRows` rows. */
  rows: (string | null)[][];
  /** The command tag, absent when the portal was suspended at `maxRows`. */
  commandTag: string | undefined;
  /** True when the statement had more rows than `maxRows`. */
  suspended: boolean;
}

/** Which statement of the pipeline failed. */
export type PipelineStage = "setup" | "statement" | "after";

/** A failure inside a pipeline, with the stage it happened in; `cause` is the driver's error. */
export class PipelineError extends Error {
  override name = "PipelineError";
  constructor(
    readonly stage: PipelineStage,
    override readonly cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

/** The client-side deadline passed; the connection must be discarded. */
export class PipelineTimeout extends Error {
  override name = "PipelineTimeout";
}

/** The subset of pg's Connection used here (its bundled typings are out of date). */
interface WireConnection {
  parse(message: { text: string; name?: string; types?: number[] }): void;
  bind(message: { portal?: string; statement?: string; values?: readonly (string | null)[] }): void;
  describe(message: { type: "P" | "S"; name?: string }): void;
  execute(message: { portal?: string; rows?: number }): void;
  sync(): void;
  sendCopyFail(message: string): void;
  stream: { cork?: () => void; uncork?: () => void };
}

interface RowDescriptionMessage {
  fields: FieldInfo[];
}

interface DataRowMessage {
  fields: (string | null)[];
}

interface CommandCompleteMessage {
  text: string;
}

/**
 * A pg Submittable that sends, before a single Sync, Parse/Bind/Execute for the setup statement
 * (Parse only once per connection when it is named), Parse/Bind/Describe/Execute(maxRows + 1) for
 * the user's statement, Parse/Bind/Execute for each further user statement, and optionally for a final statement. All of it runs in one implicit transaction that PostgreSQL
 * commits at Sync, or rolls back if any message failed: one round trip per query, no BEGIN or
 * COMMIT, and no explicit ROLLBACK on error.
 *
 * Everything goes over the extended protocol, so the server itself refuses a text holding more than
 * one statement ("cannot insert multiple commands into a prepared statement").
 */
class StatementPipeline implements Submittable {
  readonly done: Promise<PipelineOutcome>;
  private resolve!: (outcome: PipelineOutcome) => void;
  private reject!: (error: Error) => void;
  private settled = false;
  private stage = 0;
  private readonly fields: FieldInfo[] = [];
  private readonly rows: (string | null)[][] = [];
  private commandTag: string | undefined;
  private suspended = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly request: PipelineRequest) {
    this.done = new Promise<PipelineOutcome>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  submit(connection: Connection): void {
    const wire = connection as unknown as WireConnection;
    const { setup, statement, more, after, maxRows, deadlineMs } = this.request;
    if (deadlineMs !== undefined) {
      this.timer = setTimeout(() => this.fail(new PipelineTimeout("database did not answer in time")), deadlineMs);
    }
    let names = prepared.get(connection);
    if (!names) prepared.set(connection, (names = new Set()));
    wire.stream.cork?.();
    try {
      if (!setup.name || !names.has(setup.name)) {
        wire.parse({ text: setup.text, name: setup.name });
        // Marked now: a failure in the setup stage discards the connection anyway.
        if (setup.name) names.add(setup.name);
      }
      wire.bind({ statement: setup.name, values: setup.values });
      wire.execute({ rows: 0 });
      wire.parse({ text: statement.text });
      wire.bind({ values: statement.values });
      wire.describe({ type: "P" });
      // One row beyond the cap tells a truncated result from one that fits exactly.
      wire.execute({ rows: maxRows + 1 });
      for (const next of more ?? []) {
        wire.parse({ text: next.text });
        wire.bind({ values: next.values });
        wire.execute({ rows: 0 });
      }
      if (after) {
        wire.parse({ text: after.text });
        wire.bind({ values: after.values });
        wire.execute({ rows: 0 });
      }
      wire.sync();
    } finally {
      wire.stream.uncork?.();
    }
  }

  handleRowDescription(message: RowDescriptionMessage): void {
    if (this.stage !== 1) return;
    for (const field of message.fields) this.fields.push({ name: field.name, dataTypeID: field.dataTypeID });
  }

  handleDataRow(message: DataRowMessage): void {
    if (this.stage !== 1) return;
    if (this.rows.length < this.request.maxRows) this.rows.push(message.fields);
  }

  handleCommandComplete(message: CommandCompleteMessage): void {
    if (this.stage === 1) this.commandTag = message.text;
    this.stage++;
  }

  handlePortalSuspended(): void {
    if (this.stage === 1) this.suspended = true;
    this.stage++;
  }

  handleEmptyQuery(): void {
    this.stage++;
  }

  handleError(error: Error): void {
    const statements = 1 + (this.request.more?.length ?? 0);
    this.fail(new PipelineError(this.stage === 0 ? "setup" : this.stage <= statements ? "statement" : "after", error));
  }

  handleReadyForQuery(): void {
    this.finish();
  }

  handleCopyInResponse(connection: Connection): void {
    (connection as unknown as WireConnection).sendCopyFail("COPY is not supported");
  }

  handleCopyData(): void {}

  private finish(): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.resolve({ fields: this.fields, rows: this.rows, commandTag: this.commandTag, suspended: this.suspended });
  }

  private fail(error: Error): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.reject(error);
  }
}

/**
 * Runs a {@link PipelineRequest} on `client` in one round trip and returns the user statement's raw
 * outcome. Rejects with a {@link PipelineError} (database or connection error, with its stage) or a
 * {@link PipelineTimeout}; after a timeout, a connection error or any failure in the setup stage the
 * client must be destroyed.
 */
export function runPipeline(client: ClientBase, request: PipelineRequest): Promise<PipelineOutcome> {
  const pipeline = new StatementPipeline(request);
  client.query(pipeline);
  return pipeline.done;
}
