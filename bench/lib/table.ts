import type { Measurement } from "./measure.js";
import { targetText, type ResultRow } from "./results.js";

const fixed = (n: number, digits = 0) => n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

const ms = (n: number) => (n < 10 ? fixed(n, 2) : n < 100 ? fixed(n, 1) : fixed(n));

function cpu(m: Measurement | undefined): string {
  if (!m) return "";
  const part = (n: number | undefined) => (n === undefined ? "-" : fixed(n));
  return `${part(m.serverCpuPct)}/${part(m.pgCpuPct)}/${part(m.clientCpuPct)}/${part(m.otherCpuPct)}`;
}

/** CPU time per request in µs, of the server and of PostgreSQL: % of one core ÷ requests per second. */
function perRequest(m: Measurement | undefined): string {
  if (!m || m.load.rps <= 0) return "";
  const us = (pct: number | undefined) => (pct === undefined ? "-" : fixed((pct / 100 / m.load.rps) * 1e6));
  return `${us(m.serverCpuPct)}/${us(m.pgCpuPct)}`;
}

function verdict(row: ResultRow): string {
  if (row.skipped) return "SKIP";
  if (row.pass === undefined) return row.note ? "info*" : "info";
  return row.pass ? "PASS" : "FAIL";
}

function ratioCell(row: ResultRow): string {
  if (row.value) return `${row.value.unit === "ms" ? ms(row.value.amount) : fixed(row.value.amount)} ${row.value.unit}`;
  return row.ratio === undefined ? "" : `${fixed(row.ratio, 2)}×`;
}

const headers = [
  "scenario",
  "req/s",
  "p50 ms",
  "p99 ms",
  "baseline",
  "base req/s",
  "ratio",
  "rounds",
  "target",
  "result",
  "cpu% srv/pg/load/other",
  "cpu µs/req srv/pg",
] as const;

/** The cells of one row, in {@link headers} order. */
function cells(row: ResultRow): string[] {
  const m = row.measured;
  const b = row.baseline;
  return [
    row.scenario,
    m ? fixed(m.load.rps) : row.skipped ? "—" : "",
    m ? ms(m.load.p50Ms) : "",
    m ? ms(m.load.p99Ms) : "",
    b?.label ?? "",
    b ? fixed(b.load.rps) : "",
    ratioCell(row),
    row.roundRatios ? `${fixed(Math.min(...row.roundRatios), 2)}–${fixed(Math.max(...row.roundRatios), 2)}` : "",
    targetText(row.target),
    verdict(row),
    cpu(m),
    perRequest(m),
  ];
}

/**
 * Renders the report as one plain-text table, followed by the notes of skipped rows and rows with
 * failed requests. A comparison run in several rounds shows the median round's numbers and the
 * range of the rounds' ratios. CPU is % of one core for the server under load, PostgreSQL, the load worker and
 * everything else on the machine (other processes competing for the CPU: a noisy run); the last
 * column divides the server's and PostgreSQL's by the request rate: CPU µs each request cost them.
 */
export function formatTable(rows: readonly ResultRow[]): string {
  const body = rows.map(cells);
  const widths = headers.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? "").length)));
  const numeric = new Set([1, 2, 3, 5, 6, 7]);
  const line = (r: readonly string[]) =>
    r.map((c, i) => (numeric.has(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join("  ").trimEnd();
  const notes = rows.flatMap((row) => {
    const text = row.skipped ?? row.note;
    return text ? [`  ${row.scenario}: ${text}`] : [];
  });
  return [line(headers), line(widths.map((w) => "─".repeat(w))), ...body.map(line), ...(notes.length ? ["", "notes:", ...notes] : [])].join(
    "\n",
  );
}
