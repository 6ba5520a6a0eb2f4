import { html, type SafeHtml } from './html.ts';

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

/**
 * An inline SVG bar chart of files added / modified / removed per run, oldest run on the left, each
 * bar linking to its run. The first sync adds every file (tens of thousands) and a daily sync
 * changes a handful, so a linear axis would flatten every bar but the first: bar height follows
 * log10(1 + total) and the bar is split among added/modified/removed in proportion to the counts.
 */
export function runChart(runs: readonly ChartRun[]): SafeHtml {
  const width = 900;
  const height = 240;
  const margin = { top: 14, right: 12, bottom: 34, left: 52 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const ordered = [...runs].sort((a, b) => a.id - b.id);
  const totals = ordered.map((r) => r.filesAdded + r.filesModified + r.filesRemoved);
  const maxLog = Math.max(1, Math.ceil(Math.log10(1 + Math.max(0, ...totals))));
  const y = (total: number) => (Math.log10(1 + total) / maxLog) * plotH;
  const slot = plotW / Math.max(ordered.length, 1);
  const barW = Math.max(2, Math.min(28, slot * 0.7));

  const grid = Array.from({ length: maxLog + 1 }, (_, k) => {
    const value = k === 0 ? 0 : 10 ** k;
    const yy = margin.top + plotH - (k === 0 ? 0 : y(value - 1));
    const label = value >= 1000 ? `${value / 1000}k` : String(value);
    return html`<line
        x1="${margin.left}"
        x2="${width - margin.right}"
        y1="${yy.toFixed(1)}"
        y2="${yy.toFixed(1)}"
        stroke="#dde3e8"
      /><text
        x="${margin.left - 6}"
        y="${(yy + 4).toFixed(1)}"
        text-anchor="end"
        font-size="11"
        fill="#5f6b73"
        >${label}</text
      >`;
  });

  const bars = ordered.map((r, i) => {
    const total = totals[i]!;
    const x = margin.left + i * slot + (slot - barW) / 2;
    const h = y(total);
    let top = margin.top + plotH;
    const segments = SERIES.map((s) => {
      const n = r[s.key];
      if (n <= 0 || total <= 0) return html``;
      const segH = (h * n) / total;
      top -= segH;
      return html`<rect
        class="bar-${s.label}"
        x="${x.toFixed(1)}"
        y="${top.toFixed(1)}"
        width="${barW.toFixed(1)}"
        height="${Math.max(segH, 0.5).toFixed(1)}"
        fill="${s.color}"
      />`;
    });
    const tip = `run ${r.id} (${r.status}): ${r.filesAdded} added, ${r.filesModified} modified, ${r.filesRemoved} removed`;
    const showLabel =
      ordered.length <= 15 || i % Math.ceil(ordered.length / 15) === 0 || i === ordered.length - 1;
    return html`<a href="/runs/${r.id}" aria-label="${tip}"
      ><title>${tip}</title
      ><rect
        x="${(margin.left + i * slot).toFixed(1)}"
        y="${margin.top}"
        width="${slot.toFixed(1)}"
        height="${plotH}"
        fill="transparent"
      />${
        total === 0
          ? html`<rect
              x="${x.toFixed(1)}"
              y="${(margin.top + plotH - 1).toFixed(1)}"
              width="${barW.toFixed(1)}"
              height="1"
              fill="#9aa5ad"
            />`
          : segments
      }${showLabel ? html`<text x="${(x + barW / 2).toFixed(1)}" y="${height - margin.bottom + 14}" text-anchor="middle" font-size="11" fill="#5f6b73">#${r.id}</text>` : ''}</a
    >`;
  });

  return html`<figure class="chart" style="margin:0">
    <svg
      id="runs-chart"
      viewBox="0 0 ${width} ${height}"
      role="img"
      aria-labelledby="runs-chart-title"
      xmlns="http://www.w3.org/2000/svg"
    >
      <title id="runs-chart-title">
        Files added, modified and removed per run (last ${ordered.length} runs)
      </title>
      ${grid} ${bars}
      <text x="${margin.left}" y="${height - 4}" font-size="11" fill="#5f6b73">run →</text>
    </svg>
    <figcaption class="legend muted">
      ${SERIES.map((s) => html`<span><i style="background:${s.color}"></i>${s.label}</span>`)}<span
        >files per run, log scale</span
      >
    </figcaption>
  </figure>`;
}
