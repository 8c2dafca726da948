/** Bounds of the statements one connection keeps prepared. */
export interface PreparedStatementLimits {
  /** Statements kept per connection (default 64). */
  entries: number;
  /** Texts longer than this many characters always go unnamed (default 8192). */
  maxTextLength: number;
}

/** Default {@link PreparedStatementLimits}. */
export const defaultPreparedStatementLimits: Readonly<PreparedStatementLimits> = Object.freeze({ entries: 64, maxTextLength: 8192 });

/** How one pipeline refers to a statement of a connection's cache. */
export interface StatementUse {
  /** The server-side statement name. */
  name: string;
  /** True when the statement must be parsed (first use on this connection). */
  parse: boolean;
}

/**
 * The named statements one connection holds, by text: a bounded LRU. A name is only remembered
 * once the pipeline that parsed it succeeded; a statement that failed or was evicted is closed at
 * the start of the connection's next pipeline (closing a statement that does not exist is no
 * error), so the server never holds more than the bound and a name is never parsed twice.
 */
export class ConnectionStatements {
  private readonly byText = new Map<string, string>();
  private readonly toClose: string[] = [];
  private counter = 0;

  constructor(private readonly limits: Readonly<PreparedStatementLimits>) {}

  /** The statement to use for `text`, or undefined when it goes unnamed (too long, caching off). */
  use(text: string): StatementUse | undefined {
    if (this.limits.entries <= 0 || text.length > this.limits.maxTextLength) return undefined;
    const name = this.byText.get(text);
    if (name !== undefined) {
      // Most recently used last.
      this.byText.delete(text);
      this.byText.set(text, name);
      return { name, parse: false };
    }
    return { name: `helios_s${++this.counter}`, parse: true };
  }

  /** Records that the pipeline using `use` for `text` succeeded. */
  succeeded(text: string, use: StatementUse): void {
    if (!use.parse) return;
    this.byText.set(text, use.name);
    if (this.byText.size > this.limits.entries) {
      const oldest = this.byText.entries().next();
      if (!oldest.done) {
        this.byText.delete(oldest.value[0]);
        this.toClose.push(oldest.value[1]);
      }
    }
  }

  /**
   * Records that the pipeline using `use` for `text` failed. A statement parsed by it may or may not
   * exist now, so it is closed; one prepared earlier stays, unless `stale` (DDL changed what it
   * returns), when it is closed too.
   */
  failed(text: string, use: StatementUse, stale: boolean): void {
    if (!use.parse && !stale) return;
    if (this.byText.get(text) === use.name) this.byText.delete(text);
    this.toClose.push(use.name);
  }

  /** Names to close before anything else in the next pipeline; the list is emptied. */
  takeClosable(): string[] {
    return this.toClose.splice(0);
  }

  /** Statements held now. */
  get size(): number {
    return this.byText.size;
  }
}

const perConnection = new WeakMap<object, ConnectionStatements>();

/** The {@link ConnectionStatements} of `connection`, created on first use with `limits`. */
export function statementsOf(connection: object, limits: Readonly<PreparedStatementLimits>): ConnectionStatements {
  let statements = perConnection.get(connection);
  if (!statements) perConnection.set(connection, (statements = new ConnectionStatements(limits)));
  return statements;
}
