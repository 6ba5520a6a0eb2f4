/**
 * Small helpers for benches on a noisy machine: medians with [min–max], aligned tables and one
 * PASS/FAIL line per target. A missed target is reported, never turned into a failing exit code.
 */

export interface Summary {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function summarise(values: number[]): Summary {
  if (values.length === 0) throw new Error('summarise: no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, n: sorted.length };
}

/** `12.3 [11.0–14.1]` (a single value prints without the range). */
export function fmtSummary(s: Summary, digits = 2): string {
  const f = (v: number) => v.toFixed(digits);
  return s.n === 1 ? f(s.median) : `${f(s.median)} [${f(s.min)}–${f(s.max)}]`;
}

export function fmt(values: number[], digits = 2): string {
  return fmtSummary(summarise(values), digits);
}

export const MB = 1e6;
export const MiB = 1024 * 1024;

/** Prints a markdown table with aligned columns. */
export function printTable(headers: string[], rows: string[][]): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  process.stdout.write(
    [line(headers), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n') +
      '\n',
  );
}

export function verdict(target: string, ok: boolean, detail: string): void {
  process.stdout.write(`${ok ? 'PASS' : 'FAIL'}  ${target}: ${detail}\n`);
}

export function log(message: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}
