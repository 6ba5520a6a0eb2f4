import { markup, type SafeHtml } from './html.ts';

export interface ChartRun {
  id: number;
  status: string;
  filesAdded: number;
  filesModified: number;
  filesRemoved: number;
}

const SERIES = [
  { key: 'filesAdded', label: 'added', color: '#2e7d32' },
  { key: 'filesModified', label: 'modified', color: '#e09b00' },
  { key: 'filesRemoved', label: 'removed', color: '#c62828' },
] as const;

const WIDTH = 900;
const HEIGHT = 240;
const MARGIN = { top: 14, right: 12, bottom: 34, left: 52 };
const PLOT_W = WIDTH - MARGIN.left - MARGIN.right;
const PLOT_H = HEIGHT - MARGIN.top - MARGIN.bottom;
const MAX_LABELS = 15;

const f1 = (n: number) => n.toFixed(1);

/**
 * An inline SVG bar chart of files added / modified / removed per run, oldest run on the left, each
 * bar linking to its run. The first sync adds every file (tens of thousands) and a daily sync
 * changes a handful, so a linear axis would flatten every bar but the first: bar height follows
 * log10(1 + total) and the bar is split among added/modified/removed in proportion to the counts.
 */
export function runChart(runs: readonly ChartRun[]): SafeHtml {
  const ordered = [...runs].sort((a, b) => a.id - b.id);
  const totals = ordered.map((r) => r.filesAdded + r.filesModified + r.filesRemoved);
  const decades = Math.max(1, Math.ceil(Math.log10(1 + Math.max(0, ...totals))));
  const barHeight = (total: number) => (Math.log10(1 + total) / decades) * PLOT_H;
  const slot = PLOT_W / Math.max(ordered.length, 1);
  const barW = Math.max(2, Math.min(28, slot * 0.7));
  const baseline = MARGIN.top + PLOT_H;

  const grid = Array.from({ length: decades + 1 }, (_, k) => {
    const value = k === 0 ? 0 : 10 ** k;
    const y = baseline - (k / decades) * PLOT_H;
    const label = value >= 1000 ? `${value / 1000}k` : String(value);
    return markup`<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${f1(y)}" y2="${f1(y)}" stroke="#dde3e8"/>
<text x="${MARGIN.left - 6}" y="${f1(y + 4)}" text-anchor="end" font-size="11" fill="#5f6b73">${label}</text>`;
  });

  const bars = ordered.map((r, i) => {
    const total = totals[i]!;
    const x = MARGIN.left + i * slot + (slot - barW) / 2;
    const h = barHeight(total);
    let top = baseline;
    const segments = SERIES.map((s) => {
      const n = r[s.key];
      if (n <= 0 || total <= 0) return markup``;
      const segH = (h * n) / total;
      top -= segH;
      return markup`<rect class="bar-${s.label}" x="${f1(x)}" y="${f1(top)}" width="${f1(barW)}" height="${f1(Math.max(segH, 0.5))}" fill="${s.color}"/>`;
    });
    const empty = markup`<rect x="${f1(x)}" y="${f1(baseline - 1)}" width="${f1(barW)}" height="1" fill="#9aa5ad"/>`;
    const tip = `run ${r.id} (${r.status}): ${r.filesAdded} added, ${r.filesModified} modified, ${r.filesRemoved} removed`;
    const labelled =
      ordered.length <= MAX_LABELS ||
      i % Math.ceil(ordered.length / MAX_LABELS) === 0 ||
      i === ordered.length - 1;
    const label = labelled
      ? markup`<text x="${f1(x + barW / 2)}" y="${HEIGHT - MARGIN.bottom + 14}" text-anchor="middle" font-size="11" fill="#5f6b73">#${r.id}</text>`
      : '';
    // A transparent full-height rect makes the whole column clickable and hoverable, even for tiny bars.
    return markup`<a href="/runs/${r.id}" aria-label="${tip}"><title>${tip}</title>
<rect x="${f1(MARGIN.left + i * slot)}" y="${MARGIN.top}" width="${f1(slot)}" height="${PLOT_H}" fill="transparent"/>
${total === 0 ? empty : segments}${label}</a>`;
  });

  return markup`<figure class="chart" style="margin:0">
<svg id="runs-chart" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-labelledby="runs-chart-title" xmlns="http://www.w3.org/2000/svg">
<title id="runs-chart-title">Files added, modified and removed per run (last ${ordered.length} runs)</title>
${grid}
${bars}
<text x="${MARGIN.left}" y="${HEIGHT - 4}" font-size="11" fill="#5f6b73">run →</text>
</svg>
<figcaption class="legend muted">${SERIES.map((s) => markup`<span><i style="background:${s.color}"></i>${s.label}</span>`)}<span>files per run, log scale</span></figcaption>
</figure>`;
}
