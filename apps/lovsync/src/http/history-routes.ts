/**
 * History over HTTP (issue 13), on the shared queries the CLI uses:
 *   GET /api/documents/:id?as_of=YYYY-MM-DD | run=N [&limit&offset]   the document as of then
 *   GET /api/documents/:id/sections/:key/history [?limit&offset]        every version of one section
 *   GET /api/diff?document=&from=&to= [&limit&offset]                    what differs between two points
 * and the pages /documents/:id (run/date picker) and /documents/:id/sections/:key/history (word-level
 * diff between consecutive versions). A document id may be sent URL-encoded as one segment or as
 * plain segments; ids and keys are accepted as users write them (refid, short title, `§ 9-3`).
 */
import { Router, type NextFunction, type Request, type Response } from 'express';
import type pg from 'pg';
import { diffWords } from 'diff';
import { z } from 'zod';
import {
  describePoint,
  diffHistory,
  documentAsOf,
  HistoryInputError,
  latestRunId,
  parseDate,
  parseRunId,
  parseVersionPoint,
  resolveDocumentId,
  resolveSectionKey,
  sectionHistory,
  type SectionVersionRow,
  type VersionPoint,
} from '@lovsync/shared/db';
import { HttpError, parseInput } from './http-error.ts';
import { layout, markup, type SafeHtml } from './html.ts';

const intParam = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,10}$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const page = { limit: intParam(1, 5000).optional(), offset: intParam(0, 100_000_000).optional() };
const asOfQuery = z.object({ as_of: z.string().optional(), run: z.string().optional(), ...page }).strict();
const historyQuery = z.object(page).strict();
const diffQuery = z
  .object({ document: z.string().optional(), from: z.string(), to: z.string(), ...page })
  .strict();

/** HistoryInputError -> 400 (invalid) / 404 (not found). */
async function translate<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof HistoryInputError)
      throw new HttpError(err.kind === 'invalid' ? 400 : 404, err.message);
    throw err;
  }
}
const sync = <T>(fn: () => T): T => {
  try {
    return fn();
  } catch (err) {
    if (err instanceof HistoryInputError) throw new HttpError(400, err.message);
    throw err;
  }
};

function segments(req: Request): string[] {
  const v = (req.params as Record<string, unknown>).rest;
  if (Array.isArray(v)) return v.map(String).flatMap((s) => s.split('/'));
  return typeof v === 'string' ? v.split('/') : [];
}

/** `<id...>/sections/<key>/history` or `<id...>`. */
function splitPath(req: Request): { id: string; key?: string } {
  const s = segments(req);
  if (s.length >= 4 && s.at(-1) === 'history' && s.at(-3) === 'sections')
    return { id: s.slice(0, -3).join('/'), key: s.at(-2)! };
  return { id: s.join('/') };
}

async function pointFrom(pool: pg.Pool, q: { as_of?: string; run?: string }): Promise<VersionPoint> {
  if (q.as_of !== undefined && q.run !== undefined)
    throw new HistoryInputError('invalid', 'give either as_of or run, not both');
  if (q.as_of !== undefined) return { date: parseDate(q.as_of, 'as_of') };
  if (q.run !== undefined) return { run: parseRunId(q.run, 'run') };
  const latest = await latestRunId(pool);
  if (latest === null) throw new HistoryInputError('not_found', 'no runs yet');
  return { run: latest };
}

export function historyApiRouter(deps: { pool: pg.Pool }): Router {
  const { pool } = deps;
  const router = Router();

  router.get('/diff', async (req, res) => {
    const q = parseInput(diffQuery, req.query, 'query');
    const from = sync(() => parseVersionPoint(q.from, 'from'));
    const to = sync(() => parseVersionPoint(q.to, 'to'));
    const documentId =
      q.document === undefined ? undefined : await translate(resolveDocumentId(pool, q.document));
    res.json(await translate(diffHistory(pool, { from, to, documentId, limit: q.limit, offset: q.offset })));
  });

  router.get('/documents/*rest', async (req: Request, res: Response, next: NextFunction) => {
    const { id, key } = splitPath(req);
    if (key !== undefined) {
      const q = parseInput(historyQuery, req.query, 'query');
      const documentId = await translate(resolveDocumentId(pool, id));
      const sectionKey = await translate(resolveSectionKey(pool, documentId, key));
      res.json({
        documentId,
        sectionKey,
        ...(await sectionHistory(pool, { documentId, sectionKey, limit: q.limit, offset: q.offset })),
      });
      return;
    }
    // Without as_of/run this is the current document (api-routes.ts).
    if (req.query.as_of === undefined && req.query.run === undefined) return next();
    const q = parseInput(asOfQuery, req.query, 'query');
    const documentId = await translate(resolveDocumentId(pool, id));
    const point = await translate(pointFrom(pool, q));
    res.json(await translate(documentAsOf(pool, { documentId, point, limit: q.limit, offset: q.offset })));
  });
  return router;
}

/** Our pages' CSP (html.ts) with the picker's GET form allowed to submit to this origin. */
const HISTORY_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const STYLE = markup`<style>
.sec { background:var(--card); border:1px solid var(--line); border-radius:6px; padding:10px 14px; margin:8px 0; }
.sec h3 { margin:0 0 6px; } .sec .meta { color:var(--muted); font-size:12px; margin-bottom:6px; }
.sec pre, .ver pre { white-space:pre-wrap; overflow-wrap:anywhere; margin:0; font:13px/1.5 ui-monospace,SFMono-Regular,Menlo,monospace; }
.chapter { font-weight:600; margin-top:18px; }
form.picker { display:flex; gap:12px; align-items:end; } form.picker label { display:flex; flex-direction:column; font-size:12px; color:var(--muted); }
.ver { background:var(--card); border:1px solid var(--line); border-radius:6px; padding:10px 14px; margin:10px 0; }
</style>`;

function sendPage(res: Response, status: number, title: string, body: SafeHtml): void {
  res
    .status(status)
    .set('Content-Security-Policy', HISTORY_CSP)
    .set('Cache-Control', 'no-store')
    .type('html')
    .send(layout(title, markup`${STYLE}${body}`));
}

const documentHref = (id: string, q = '') => `/documents/${encodeURIComponent(id)}${q}`;
const historyHref = (id: string, key: string) =>
  `/documents/${encodeURIComponent(id)}/sections/${encodeURIComponent(key)}/history`;
const day = (d: Date | null) => (d ? d.toISOString().slice(0, 10) : '');

const ORIGIN_NOTE: Record<SectionVersionRow['origin'], string> = {
  first_seen: ' (first seen: earlier history unknown)',
  changed: '',
  reparse: ' (re-extracted by lovsync: the published source did not change)',
};

function versionMeta(v: SectionVersionRow): SafeHtml {
  return markup`version from run ${v.validFromRun}${v.validToRun ? markup` to run ${v.validToRun - 1}` : ' (current)'}, published ${day(v.observedFrom)}${ORIGIN_NOTE[v.origin]}${
    v.inForce || v.amendedBy
      ? markup` · in force ${v.inForce ?? 'unknown'}${v.amendedBy ? markup` by <code>${v.amendedBy}</code>` : ''}`
      : ''
  }`;
}

/** Old -> new as words: removed in <del>, added in <ins>, every piece escaped. */
export function wordDiff(oldText: string, newText: string): SafeHtml {
  return markup`${diffWords(oldText, newText).map((p) =>
    p.added ? markup`<ins>${p.value}</ins>` : p.removed ? markup`<del>${p.value}</del>` : markup`${p.value}`,
  )}`;
}

export function historyPagesRouter(deps: { pool: pg.Pool }): Router {
  const { pool } = deps;
  const router = Router();
  router.get('/documents/*rest', async (req, res) => {
    const { id, key } = splitPath(req);
    try {
      if (key !== undefined) {
        const q = parseInput(historyQuery, req.query, 'query');
        const documentId = await resolveDocumentId(pool, id);
        const sectionKey = await resolveSectionKey(pool, documentId, key);
        const h = await sectionHistory(pool, {
          documentId,
          sectionKey,
          limit: q.limit ?? 200,
          offset: q.offset,
        });
        const body = markup`<h1>${documentId} ${sectionKey}: history</h1>
<p><a href="${documentHref(documentId)}">← the document</a> · ${h.total} version${h.total === 1 ? '' : 's'} (history starts at the first sync that saw the document)</p>
<div id="versions">${h.versions.map((v, i) => {
          const prev = i > 0 ? h.versions[i - 1] : undefined;
          return markup`<div class="ver" data-run="${v.validFromRun}"><h3>${v.number ?? v.sectionKey}${v.title ? `. ${v.title}` : ''}</h3>
<div class="meta muted">${versionMeta(v)}</div>${v.changeNote ? markup`<div class="muted">note: ${v.changeNote}</div>` : ''}
<pre>${prev ? wordDiff(prev.text, v.text) : v.text}</pre></div>`;
        })}</div>`;
        sendPage(res, 200, `${documentId} ${sectionKey}`, body);
        return;
      }
      const q = parseInput(asOfQuery, req.query, 'query');
      const documentId = await resolveDocumentId(pool, id);
      const asOf = q.as_of === '' ? undefined : q.as_of;
      const run = q.run === '' ? undefined : q.run;
      const point = await pointFrom(pool, { as_of: asOf, run });
      const r = await documentAsOf(pool, { documentId, point, limit: q.limit ?? 2000, offset: q.offset });
      const runs = await pool.query<{ run: number }>(
        `SELECT DISTINCT valid_from_run AS run FROM section_versions WHERE document_id = $1
         UNION SELECT DISTINCT valid_to_run FROM section_versions WHERE document_id = $1 AND valid_to_run IS NOT NULL
         UNION SELECT valid_from_run FROM document_versions WHERE document_id = $1 ORDER BY 1 DESC LIMIT 200`,
        [documentId],
      );
      const selected = 'run' in point ? point.run : undefined;
      const body = markup`<h1>${r.document.title}</h1>
<p class="muted"><code>${documentId}</code> · as of ${describePoint(point)}${r.document.lastChangedBy ? markup` · last changed by ${r.document.lastChangedBy}` : ''}</p>
<form class="picker card" method="get" action="${documentHref(documentId)}">
<label>Run (where it changed)<select name="run"><option value="">—</option>${runs.rows.map(
        (x) =>
          markup`<option value="${x.run}"${x.run === selected ? markup` selected` : ''}>run ${x.run}</option>`,
      )}</select></label>
<label>or as published on<input type="date" name="as_of" value="${'date' in point ? point.date : ''}"></label>
<button type="submit">Show</button></form>
<div id="sections">${r.sections.map((s) =>
        s.kind === 'chapter'
          ? markup`<div class="chapter">${s.headingPath}</div>`
          : markup`<div class="sec" data-key="${s.sectionKey}"><h3>${s.number ?? s.sectionKey}${s.title ? `. ${s.title}` : ''}</h3>
<div class="meta">${versionMeta(s)} · <a href="${historyHref(documentId, s.sectionKey)}">history</a></div><pre>${s.text}</pre></div>`,
      )}</div>`;
      sendPage(res, 200, r.document.title, body);
    } catch (err) {
      if (!(err instanceof HistoryInputError)) throw err;
      sendPage(
        res,
        err.kind === 'invalid' ? 400 : 404,
        'Not found',
        markup`<h1>${err.kind === 'invalid' ? 'Bad request' : 'Not found'}</h1><div class="card err">${err.message}</div>`,
      );
    }
  });
  return router;
}
