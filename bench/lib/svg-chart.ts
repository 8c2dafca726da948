import { targetText, type ResultRow } from "./results.js";

const escape = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

interface Bar {
  label: string;
  /** Bar length in chart units. */
  value: number;
  /** Where the target marker goes, in chart units. */
  marker?: number;
  text: string;
  colour: string;
}

/**
 * The bar of a row: ratio rows draw the ratio with the target as a marker; budget rows draw the
 * share of the budget used (marker at 1, shorter is better). Green passes, red fails, grey is info.
 */
function barOf(row: ResultRow): Bar | undefined {
  if (row.skipped) return undefined;
  const colour = row.pass === undefined ? "#9aa0a6" : row.pass ? "#2e7d32" : "#c62828";
  if (row.value) {
    if (!row.target) return undefined;
    const amount = `${row.value.amount.toFixed(row.value.unit === "ms" ? 1 : 0)} ${row.value.unit}`;
    return { label: row.scenario, value: row.value.amount / row.target.value, marker: 1, text: `${amount} (${targetText(row.target)})`, colour };
  }
  if (row.ratio === undefined) return undefined;
  const marker = row.target?.value;
  return {
    label: row.scenario,
    value: row.ratio,
    ...(marker === undefined ? {} : { marker }),
    text: `${row.ratio.toFixed(2)}× (${targetText(row.target)})`,
    colour,
  };
}

/** A hand-written SVG bar chart of every row's ratio (or budget share) against its target. */
export function renderChart(rows: readonly ResultRow[], title: string): string {
  const bars = rows.map(barOf).filter((bar): bar is Bar => bar !== undefined);
  const labelWidth = 300;
  const plotWidth = 460;
  const textWidth = 200;
  const rowHeight = 26;
  const top = 56;
  const width = labelWidth + plotWidth + textWidth;
  const height = top + bars.length * rowHeight + 40;
  const scaleMax = Math.min(3, Math.max(1.25, ...bars.flatMap((b) => [b.value, b.marker ?? 0])) * 1.05);
  const x = (v: number) => Math.round((labelWidth + (Math.min(v, scaleMax) / scaleMax) * plotWidth) * 10) / 10;

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="bold">${escape(title)}</text>`,
    `<text x="12" y="40" fill="#555">bar: measured ÷ baseline (budget rows: share of the budget used); black tick: target; green pass, red fail, grey info</text>`,
  ];
  for (let tick = 0; tick <= scaleMax + 1e-9; tick += 0.5) {
    const tx = x(tick);
    parts.push(`<line x1="${tx}" y1="${top - 4}" x2="${tx}" y2="${height - 34}" stroke="#e0e0e0"/>`);
    parts.push(`<text x="${tx}" y="${height - 20}" text-anchor="middle" fill="#555">${tick.toFixed(1)}</text>`);
  }
  bars.forEach((bar, i) => {
    const y = top + i * rowHeight;
    parts.push(`<text x="${labelWidth - 8}" y="${y + 16}" text-anchor="end">${escape(bar.label)}</text>`);
    parts.push(`<rect x="${labelWidth}" y="${y + 4}" width="${Math.max(1, x(bar.value) - labelWidth)}" height="${rowHeight - 10}" fill="${bar.colour}"/>`);
    if (bar.marker !== undefined) {
      const mx = x(bar.marker);
      parts.push(`<line x1="${mx}" y1="${y + 1}" x2="${mx}" y2="${y + rowHeight - 3}" stroke="#000" stroke-width="2"/>`);
    }
    parts.push(`<text x="${labelWidth + plotWidth + 8}" y="${y + 16}">${escape(bar.text)}</text>`);
  });
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}
