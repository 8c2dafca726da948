import type { Measurement } from "./measure.js";

/** A target of issue 7: a ratio to reach, or a latency or memory budget. */
export type Target =
  | { kind: "min-ratio"; value: number }
  | { kind: "max-ms"; value: number }
  | { kind: "max-mb"; value: number };

/** One line of the report. */
export interface ResultRow {
  /** Scenario number and what it measures, e.g. "4 1-row REST vs pg". */
  scenario: string;
  measured?: Measurement;
  baseline?: Measurement;
  /** measured req/s ÷ baseline req/s (with several rounds: the median round's). */
  ratio?: number;
  /** Each round's ratio, in round order, when the comparison ran in more than one round. */
  roundRatios?: number[];
  /** The quantity a budget target is checked on (p99 in ms, RSS in MB). */
  value?: { amount: number; unit: "ms" | "MB" };
  target?: Target;
  /** Whether the target is met; undefined without a target or when skipped. */
  pass?: boolean;
  /** Why the row has no numbers (endpoint not there yet, worker failed, …). */
  skipped?: string;
  /** Anything a reader must know, e.g. failed requests. */
  note?: string;
}

/** Describes a target for the table, e.g. "≥ 0.9×". */
export function targetText(target: Target | undefined): string {
  if (!target) return "—";
  switch (target.kind) {
    case "min-ratio":
      return `≥ ${target.value}×`;
    case "max-ms":
      return `p99 ≤ ${target.value} ms`;
    case "max-mb":
      return `≤ ${target.value} MB`;
  }
}

/** Notes failed requests of a measurement, which disqualify its numbers. */
function errorNote(m: Measurement | undefined): string | undefined {
  if (!m || m.load.errors === 0) return undefined;
  return `${m.label}: ${m.load.errors} failed requests${m.load.errorSample ? ` (${m.load.errorSample})` : ""}`;
}

/** A row comparing `measured` with `baseline` by req/s, judged against a minimum ratio. */
export function ratioRow(scenario: string, measured: Measurement, baseline: Measurement, minRatio?: number): ResultRow {
  const ratio = baseline.load.rps > 0 ? measured.load.rps / baseline.load.rps : 0;
  const notes = [errorNote(measured), errorNote(baseline)].filter((n): n is string => n !== undefined);
  const clean = notes.length === 0;
  return {
    scenario,
    measured,
    baseline,
    ratio,
    ...(minRatio === undefined ? {} : { target: { kind: "min-ratio", value: minRatio }, pass: clean && ratio >= minRatio }),
    ...(clean ? {} : { note: notes.join("; ") }),
  };
}

/** A row judged on a budget (`value` must not exceed the target). */
export function budgetRow(
  scenario: string,
  value: { amount: number; unit: "ms" | "MB" },
  target: Target | undefined,
  parts: { measured?: Measurement; baseline?: Measurement } = {},
): ResultRow {
  const notes = [errorNote(parts.measured), errorNote(parts.baseline)].filter((n): n is string => n !== undefined);
  const clean = notes.length === 0;
  return {
    scenario,
    ...parts,
    value,
    ...(target ? { target, pass: clean && value.amount <= target.value } : {}),
    ...(clean ? {} : { note: notes.join("; ") }),
  };
}

/** A row without numbers. */
export function skippedRow(scenario: string, reason: string, target?: Target, baseline?: Measurement): ResultRow {
  return { scenario, skipped: reason, ...(target ? { target } : {}), ...(baseline ? { baseline } : {}) };
}
