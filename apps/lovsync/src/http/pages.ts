import { Router, type Response } from 'express';
import type pg from 'pg';
import { getRun, listRuns, type RunRow } from '@lovsync/shared/db';
import type { SafeHtml } from './html.ts';
import {
  markup,
  layout,
  formatBytes,
  formatDuration,
  formatTime,
  PAGE_CSP,
  statusBadge,
  textDiff,
} from './html.ts';
import { parseInput } from './http-error.ts';
import { runIdSchema } from './input-schemas.ts';
import {
  fileChangeSummary,
  listRunChanges,
  listRunDatasets,
  type SectionChangeRow,
} from '@lovsync/shared/db';
import { runChart } from './run-chart.ts';
import { z } from 'zod';

const RUNS_PER_PAGE = 30;
const DOCUMENTS_PER_PAGE = 500;
const SECTIONS_PER_PAGE = 200;
const FAILED_FILES_SHOWN = 100;

const runsPageQuery = z.object({ before: runIdSchema.optional() }).strict();
const runPageQuery = z
  .object({
    offset: z
      .string()
      .regex(/^\d{1,9}$/)
      .transform(Number)
      .default(0),
  })
  .strict();

function sendPage(res: Response, status: number, title: string, body: SafeHtml): void {
  res
    .status(status)
    .set('Content-Security-Policy', PAGE_CSP)
    .set('Cache-Control', 'no-store')
    .type('html')
    .send(layout(title, body));
}

const documentApiHref = (id: string) => `/api/documents/${encodeURIComponent(id)}`;

/** The human-facing pages: `/` (recent runs and a chart) and `/runs/:id` (what changed in one run). */
export function pagesRouter(deps: { pool: pg.Pool; timeZone: string }): Router {
  const { pool, timeZone } = deps;
  const router = Router();

  router.get('/', async (req, res) => {
    const q = parseInput(runsPageQuery, req.query, 'query');
    const runs = await listRuns(pool, { limit: RUNS_PER_PAGE, beforeId: q.before });
    const last = runs.at(-1);
    const older =
      runs.length === RUNS_PER_PAGE && last ? markup`<a href="/?before=${last.id}">Older runs →</a>` : '';
    const newer = q.before !== undefined ? markup`<a href="/">← Latest runs</a>` : '';
    const body = markup`<h1>Sync runs</h1>
${
  runs.length === 0
    ? markup`<div class="card">No runs yet. Start one with <code>lovsync sync</code> or <code>POST /api/runs</code>.</div>`
    : markup`<div class="card">${runChart(runs)}</div>
<table id="runs">
<thead><tr><th>Run</th><th>Status</th><th>Trigger</th><th>Started (${timeZone})</th><th>Duration</th>
<th class="num">Datasets changed / checked</th><th class="num">Added</th><th class="num">Modified</th><th class="num">Removed</th>
<th class="num">Unchanged</th><th class="num">Parsed ok / total</th><th class="num">Parse failed</th><th class="num">Downloaded</th><th>Error</th></tr></thead>
<tbody>${runs.map((r) => runRow(r, timeZone))}</tbody>
</table>
<div class="pager">${newer}${older}</div>`
}`;
    sendPage(res, 200, 'Runs', body);
  });

  router.get('/runs/:id', async (req, res) => {
    const id = parseInput(runIdSchema, req.params.id, 'run id');
    const q = parseInput(runPageQuery, req.query, 'query');
    const run = await getRun(pool, id);
    if (!run) {
      sendPage(res, 404, 'Not found', markup`<h1>Run ${id} not found</h1><p><a href="/">All runs</a></p>`);
      return;
    }
    const [datasets, fileSummary, documents, sections, failedFiles] = await Promise.all([
      listRunDatasets(pool, id),
      fileChangeSummary(pool, id),
      listRunChanges(pool, { runId: id, kind: 'documents', limit: DOCUMENTS_PER_PAGE, offset: 0 }),
      listRunChanges(pool, { runId: id, kind: 'sections', limit: SECTIONS_PER_PAGE, offset: q.offset }),
      pool.query<{ dataset: string; path: string; change: string; parseError: string | null }>(
        `SELECT dataset, path, change, parse_error AS "parseError" FROM file_changes
         WHERE run_id = $1 AND parse_status = 'failed' ORDER BY dataset, path LIMIT $2`,
        [id, FAILED_FILES_SHOWN],
      ),
    ]);
    const body = markup`<p><a href="/">← All runs</a></p>
<h1>Run #${run.id} ${statusBadge(run.status)}</h1>
<div class="card"><dl class="kv">
<dt>Trigger</dt><dd>${run.trigger}${run.force ? ' (forced)' : ''}</dd>
<dt>Dataset filter</dt><dd>${run.datasetFilter ?? 'all datasets'}</dd>
<dt>Started</dt><dd>${formatTime(run.startedAt, timeZone)}</dd>
<dt>Finished</dt><dd>${run.finishedAt ? markup`${formatTime(run.finishedAt, timeZone)} (${formatDuration(run.startedAt, run.finishedAt)})` : 'not yet'}</dd>
<dt>Files</dt><dd><span class="c-added">+${run.filesAdded}</span> added, <span class="c-modified">~${run.filesModified}</span> modified, <span class="c-removed">−${run.filesRemoved}</span> removed, ${run.filesUnchanged} unchanged</dd>
<dt>Parsing</dt><dd>${run.parseSucceeded} of ${run.parseTotal} succeeded, ${run.parseFailed} failed</dd>
<dt>Downloaded</dt><dd>${formatBytes(run.bytesDownloaded)}${run.entriesRefused ? `, ${run.entriesRefused} archive entries refused` : ''}</dd>
${run.error ? markup`<dt>Error</dt><dd class="err">${run.error}</dd>` : ''}
<dt>Data</dt><dd><a href="/api/runs/${run.id}">run JSON</a> · <a href="/api/runs/${run.id}/changes?kind=files">file changes</a> · <a href="/api/runs/${run.id}/changes?kind=documents">document changes</a> · <a href="/api/runs/${run.id}/changes?kind=sections">section changes</a></dd>
</dl></div>
${datasets.length ? datasetsTable(datasets, timeZone) : ''}
${
  fileSummary.length
    ? markup`<h2>File changes</h2><table id="file-summary"><thead><tr><th>Change</th><th>Parse status</th><th class="num">Files</th></tr></thead><tbody>${fileSummary.map(
        (f) =>
          markup`<tr><td class="c-${f.change}">${f.change}</td><td>${f.parseStatus}</td><td class="num">${f.n}</td></tr>`,
      )}</tbody></table>`
    : ''
}
${
  failedFiles.rows.length
    ? markup`<h2>Files that failed to parse</h2><table><thead><tr><th>Dataset</th><th>Path</th><th>Change</th><th>Error</th></tr></thead><tbody>${failedFiles.rows.map(
        (f) =>
          markup`<tr><td>${f.dataset}</td><td>${f.path}</td><td class="c-${f.change}">${f.change}</td><td class="err">${f.parseError ?? ''}</td></tr>`,
      )}</tbody></table>`
    : ''
}
<h2>Documents changed (${documents.total})</h2>
${
  documents.total === 0
    ? markup`<p class="muted">No document changed in this run.</p>`
    : markup`<table id="documents"><thead><tr><th>Document</th><th>Title</th><th>Change</th><th>Kind</th><th class="num">Sections +</th><th class="num">Sections ~</th><th class="num">Sections −</th><th>File</th></tr></thead><tbody>${documents.items.map(
        (d) =>
          markup`<tr><td><a href="${documentApiHref(d.documentId)}">${d.documentId}</a></td><td>${d.shortTitle ?? d.title ?? ''}</td><td class="c-${d.change}">${d.change}</td><td>${d.kind ?? ''}</td><td class="num">${d.sectionsAdded}</td><td class="num">${d.sectionsModified}</td><td class="num">${d.sectionsRemoved}</td><td class="muted">${d.dataset}/${d.path}</td></tr>`,
      )}</tbody></table>${
        documents.total > documents.items.length
          ? markup`<p class="muted">Showing ${documents.items.length} of ${documents.total}; the rest via <a href="/api/runs/${run.id}/changes?kind=documents&amp;offset=${documents.items.length}">the API</a>.</p>`
          : ''
      }`
}
<h2>Sections changed (${sections.total})</h2>
${sections.total === 0 ? markup`<p class="muted">No section changed in this run.</p>` : sectionChanges(sections.items)}
${sectionPager(run.id, q.offset, sections.items.length, sections.total)}`;
    sendPage(res, 200, `Run ${run.id}`, body);
  });

  return router;
}

function runRow(r: RunRow, timeZone: string): SafeHtml {
  return markup`<tr data-run-id="${r.id}">
<td><a href="/runs/${r.id}">#${r.id}</a></td>
<td>${statusBadge(r.status)}</td>
<td>${r.trigger}${r.force ? ' (forced)' : ''}</td>
<td>${formatTime(r.startedAt, timeZone)}</td>
<td>${formatDuration(r.startedAt, r.finishedAt)}</td>
<td class="num">${r.datasetsChanged} / ${r.datasetsChecked}${r.datasetsFailed ? markup` <span class="c-removed">(${r.datasetsFailed} failed)</span>` : ''}</td>
<td class="num c-added">${r.filesAdded}</td>
<td class="num c-modified">${r.filesModified}</td>
<td class="num c-removed">${r.filesRemoved}</td>
<td class="num">${r.filesUnchanged}</td>
<td class="num">${r.parseSucceeded} / ${r.parseTotal}</td>
<td class="num${r.parseFailed ? ' c-removed' : ''}">${r.parseFailed}</td>
<td class="num">${formatBytes(r.bytesDownloaded)}</td>
<td class="err">${r.error ? truncate(r.error, 160) : ''}</td>
</tr>`;
}

function datasetsTable(rows: Awaited<ReturnType<typeof listRunDatasets>>, timeZone: string): SafeHtml {
  return markup`<h2>Datasets</h2><table id="datasets"><thead><tr><th>Dataset</th><th>Status</th><th>Last modified (${timeZone})</th><th class="num">Files</th><th class="num">Downloaded</th><th class="num">Entries refused</th><th>Error</th></tr></thead><tbody>${rows.map(
    (d) =>
      markup`<tr><td>${d.dataset}${d.vanished ? markup` <span class="muted">(no longer listed)</span>` : ''}</td><td>${d.status}</td><td>${formatTime(d.lastModified, timeZone)}</td><td class="num">${d.fileCount ?? ''}</td><td class="num">${formatBytes(d.bytesDownloaded)}</td><td class="num">${d.entriesRefused}</td><td class="err">${d.error ?? ''}</td></tr>`,
  )}</tbody></table>`;
}

/** Section changes grouped by document, each a collapsed <details> with the old and new text. */
function sectionChanges(items: SectionChangeRow[]): SafeHtml {
  const byDocument = new Map<string, SectionChangeRow[]>();
  for (const s of items) {
    const list = byDocument.get(s.documentId) ?? [];
    list.push(s);
    byDocument.set(s.documentId, list);
  }
  return markup`<div id="sections">${[...byDocument].map(
    ([documentId, list]) =>
      markup`<h3><a href="${documentApiHref(documentId)}">${documentId}</a></h3>${list.map((s) => sectionChange(s))}`,
  )}</div>`;
}

function sectionChange(s: SectionChangeRow): SafeHtml {
  const label = s.headingPath || s.number || s.sectionKey;
  let oldHtml: SafeHtml;
  let newHtml: SafeHtml;
  if (s.change === 'modified' && s.oldText !== null && s.newText !== null) {
    const d = textDiff(s.oldText, s.newText);
    oldHtml = markup`${d.prefix}<del>${d.oldMid}</del>${d.suffix}`;
    newHtml = markup`${d.prefix}<ins>${d.newMid}</ins>${d.suffix}`;
  } else {
    oldHtml = markup`${s.oldText ?? ''}`;
    newHtml = markup`${s.newText ?? ''}`;
  }
  return markup`<details class="section-change" data-section-key="${s.sectionKey}">
<summary><span class="c-${s.change}">${s.change}</span> · ${label} <span class="muted">(${s.sectionKey})</span></summary>
<div class="texts"><div><strong>Before</strong><pre>${s.oldText === null ? markup`<span class="muted">(none)</span>` : oldHtml}</pre></div>
<div><strong>After</strong><pre>${s.newText === null ? markup`<span class="muted">(none)</span>` : newHtml}</pre></div></div>
</details>`;
}

function sectionPager(runId: number, offset: number, shown: number, total: number): SafeHtml {
  if (total <= SECTIONS_PER_PAGE && offset === 0) return markup``;
  const prev =
    offset > 0
      ? markup`<a href="/runs/${runId}?offset=${Math.max(0, offset - SECTIONS_PER_PAGE)}">← Previous sections</a>`
      : '';
  const next =
    offset + shown < total
      ? markup`<a href="/runs/${runId}?offset=${offset + SECTIONS_PER_PAGE}">Next sections →</a>`
      : '';
  return markup`<div class="pager"><span class="muted">Sections ${total === 0 ? 0 : offset + 1}–${offset + shown} of ${total}</span> ${prev}${next}</div>`;
}

function truncate(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}
