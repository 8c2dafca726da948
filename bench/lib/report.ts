import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ProfileSummary } from "./cpu-profile.js";
import type { ResultRow } from "./results.js";
import { renderChart } from "./svg-chart.js";

/** Everything one run writes to bench/results. */
export interface BenchReport {
  startedAt: string;
  /** Machine and run parameters, for comparing runs. */
  environment: Record<string, string | number | boolean>;
  rows: ResultRow[];
  profiles: Record<string, ProfileSummary>;
}

/**
 * Writes `bench-<timestamp>.json` and `.svg` plus `latest.json` and `latest.svg` into `dir`;
 * returns the paths of the latest pair.
 */
export async function writeReport(dir: string, report: BenchReport): Promise<{ json: string; svg: string }> {
  await mkdir(dir, { recursive: true });
  const stamp = report.startedAt.replace(/[:.]/g, "-");
  const json = `${JSON.stringify(report, null, 2)}\n`;
  const svg = renderChart(report.rows, `HeliosDB Nano bench ${report.startedAt} (${String(report.environment.storage)})`);
  await Promise.all([
    writeFile(join(dir, `bench-${stamp}.json`), json),
    writeFile(join(dir, `bench-${stamp}.svg`), svg),
    writeFile(join(dir, "latest.json"), json),
    writeFile(join(dir, "latest.svg"), svg),
  ]);
  return { json: join(dir, "latest.json"), svg: join(dir, "latest.svg") };
}
