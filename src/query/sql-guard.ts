import { loadModule, parseSync, type ParseResult } from "libpg-query";
import { apiError, type Reason } from "../errors/catalogue.js";
import type { Scope } from "../auth/principal.js";
import { createLruCache } from "../util/lru-cache.js";
import { highestPlaceholder } from "./placeholders.js";
import {
  classifyStatement,
  isRejection,
  type RequiredScope,
  type StatementClass,
} from "./statement-policy.js";

export type { RequiredScope, StatementClass, StatementKind } from "./statement-policy.js";

/** An allowed statement, with the number of parameter values it needs. */
export interface GuardedStatement extends StatementClass {
  /** The highest `$n` placeholder it uses (0 for none): `params` must hold exactly this many values. */
  placeholders: number;
}

/** Options of {@link createSqlGuard}. */
export interface SqlGuardOptions {
  /** Largest SQL text accepted, in UTF-8 bytes; larger texts fail with `sql_too_large`. */
  maxSqlBytes: number;
  /** Verdicts remembered, keyed by the exact SQL text (default 1000; 0 turns caching off). */
  cacheEntries?: number;
  /** Texts longer than this many characters are classified but not cached (default 8192). */
  cacheMaxSqlLength?: number;
}

/**
 * Checks SQL text before it reaches the database: size cap, exactly one statement according to the
 * real PostgreSQL parser, and the statement-kind allow-list (see {@link classifyStatement}).
 *
 * Function calls inside allowed statements (`set_config`, `pg_sleep`, `pg_advisory_lock`...) are not
 * the guard's business: the database refuses them by privilege (see `database-roles.ts`) or bounds
 * them with `statement_timeout`.
 */
export interface SqlGuard {
  /** Classifies `sql`, or throws the catalogue error that refuses it. */
  classify(sql: string): GuardedStatement;
}

/** A refusal remembered by the cache; a fresh error is built for every request. */
interface Refusal {
  reason: Reason;
  message: string;
  metadata?: Record<string, string>;
}

type Verdict = { ok: GuardedStatement } | { refused: Refusal };

let parserReady: Promise<void> | undefined;

/** Loads the WebAssembly PostgreSQL parser once per process. */
export function loadSqlParser(): Promise<void> {
  parserReady ??= loadModule();
  return parserReady;
}

function parseError(error: unknown): Refusal {
  const details = (error as { sqlDetails?: { message?: string; cursorPosition?: number } }).sqlDetails;
  const message = details?.message ?? (error instanceof Error ? error.message : "syntax error");
  const metadata: Record<string, string> = { sqlstate: "42601" };
  // PostgreSQL reports 1-based character positions; the parser gives a 0-based one.
  if (details?.cursorPosition !== undefined) metadata.position = String(details.cursorPosition + 1);
  return { reason: "sql_error", message, metadata };
}

function judge(sql: string): Verdict {
  let tree: ParseResult;
  try {
    tree = parseSync(sql);
  } catch (error) {
    return { refused: parseError(error) };
  }
  const statements = tree.stmts ?? [];
  if (statements.length === 0) {
    return { refused: { reason: "validation_failed", message: "sql contains no statement" } };
  }
  if (statements.length > 1) {
    return {
      refused: {
        reason: "statement_not_allowed",
        message: `Exactly one statement is allowed per query, found ${statements.length}`,
      },
    };
  }
  const verdict = classifyStatement(statements[0]?.stmt);
  if (isRejection(verdict)) return { refused: { reason: "statement_not_allowed", message: verdict.message } };
  return { ok: { ...verdict, placeholders: highestPlaceholder(statements[0]?.stmt) } };
}

/**
 * Checks that `given` parameter values fit `statement`: exactly as many as its highest `$n`
 * placeholder, or `parameter_count_mismatch` naming both numbers (PostgreSQL itself would refuse the
 * bind with a protocol violation).
 */
export function checkParameterCount(statement: GuardedStatement, given: number): void {
  const expected = statement.placeholders;
  if (given === expected) return;
  const uses = expected === 0 ? "has no $n placeholders" : `uses placeholders up to $${expected}, so it needs ${expected} param${expected === 1 ? "" : "s"}`;
  throw apiError("parameter_count_mismatch", `The statement ${uses}, but ${given} ${given === 1 ? "was" : "were"} given`, {
    metadata: { expected_params: String(expected), given_params: String(given) },
  });
}

/** Creates a {@link SqlGuard}, loading the parser first. */
export async function createSqlGuard(options: SqlGuardOptions): Promise<SqlGuard> {
  await loadSqlParser();
  const cache = createLruCache<string, Verdict>(options.cacheEntries ?? 1000);
  const cacheMaxSqlLength = options.cacheMaxSqlLength ?? 8192;
  return {
    classify(sql) {
      if (typeof sql !== "string" || sql.trim() === "") throw apiError("validation_failed", "sql is required");
      if (Buffer.byteLength(sql, "utf8") > options.maxSqlBytes) {
        throw apiError("sql_too_large", `SQL text is larger than the limit of ${options.maxSqlBytes} bytes (--max-sql-bytes)`, {
          metadata: { limit: String(options.maxSqlBytes) },
        });
      }
      // The parser (a C library) and the wire protocol both stop at NUL: refuse rather than guess.
      if (sql.includes("\0")) throw apiError("validation_failed", "sql must not contain NUL characters");
      let verdict = cache.get(sql);
      if (!verdict) {
        verdict = judge(sql);
        if (sql.length <= cacheMaxSqlLength) cache.set(sql, verdict);
      }
      if ("ok" in verdict) return verdict.ok;
      const { reason, message, metadata } = verdict.refused;
      throw apiError(reason, message, metadata ? { metadata } : {});
    },
  };
}

const scopeRank: Record<RequiredScope, number> = { read: 1, write: 2, admin: 3 };

/** The strongest query scope among `scopes` (`signup` grants no query rights), or undefined. */
export function strongestScope(scopes: readonly Scope[]): RequiredScope | undefined {
  let best: RequiredScope | undefined;
  for (const scope of scopes) {
    if (scope === "signup") continue;
    if (!best || scopeRank[scope] > scopeRank[best]) best = scope;
  }
  return best;
}

/**
 * Checks that a caller holding `scopes` may run `statement`: throws `insufficient_scope` when the
 * statement needs a stronger scope, and `statement_not_allowed` when it changes data on a read-only
 * request (GET), whatever the scopes.
 */
export function authorizeStatement(
  statement: StatementClass,
  scopes: readonly Scope[],
  options: { readOnly: boolean },
): void {
  const held = strongestScope(scopes);
  if (!held || scopeRank[held] < scopeRank[statement.requiresScope]) {
    throw apiError(
      "insufficient_scope",
      `${statement.command} requires the ${statement.requiresScope} scope`,
      { metadata: { required_scope: statement.requiresScope } },
    );
  }
  if (options.readOnly && !statement.readOnly) {
    throw apiError(
      "statement_not_allowed",
      `${statement.command} changes data and this request is read-only; send it with POST`,
    );
  }
}
