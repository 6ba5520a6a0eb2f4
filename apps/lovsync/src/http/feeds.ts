import { createHash } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import type pg from 'pg';
import {
  lastFinishedAt,
  listFeedEntries,
  slugify,
  type FeedEntry,
  type FeedFilter,
} from '@lovsync/shared/db';
import { HttpError, parseInput } from './http-error.ts';
import { documentIdSchema } from './input-schemas.ts';
import { z } from 'zod';

const PAGE = 50;

const feedQuery = z
  .object({
    before: z
      .string()
      .regex(/^[1-9]\d{0,17}$/, 'must be a positive whole number')
      .transform(Number)
      .optional(),
  })
  .strict();

const slugSchema = z
  .string()
  .max(200, 'is too long')
  .regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'must be a slug such as husleie or kommunal-og-distriktsdepartementet');

/** Characters XML 1.0 does not allow (control characters, U+FFFE/U+FFFF, lone surrogates) are dropped. */
function xmlText(v: string): string {
  return (
    v
      // eslint-disable-next-line no-control-regex -- removing characters XML 1.0 forbids is the point
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '')
      .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '')
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&apos;')
  );
}

/** A stable entry id: the same document change of the same run always has the same id. */
export function entryId(runId: number, documentId: string): string {
  return `urn:lovsync:run:${runId}:document:${encodeURIComponent(documentId)}`;
}

function summary(e: FeedEntry): string {
  const s = e.payload.sections;
  const head =
    e.payload.change === 'modified'
      ? `${e.payload.kind === 'amendment' ? 'Amended' : 'Edited'}: ${s.added} § added, ${s.modified} modified, ${s.removed} removed.`
      : e.payload.change === 'added'
        ? 'New document.'
        : 'Document removed.';
  const parts = e.sections.slice(0, 20).map((x) => {
    const label = x.number ?? x.key;
    if (x.change === 'added') return `${label} added: ${x.newText ?? ''}`;
    if (x.change === 'removed') return `${label} removed (was: ${x.oldText ?? ''})`;
    return `${label} changed.\nOld: ${x.oldText ?? ''}\nNew: ${x.newText ?? ''}`;
  });
  if (e.sections.length > 20) parts.push(`… and ${e.sections.length - 20} more sections.`);
  return [head, ...parts].join('\n\n');
}

function renderFeed(p: {
  base: string;
  selfPath: string;
  title: string;
  entries: FeedEntry[];
  next: number | null;
  updated: Date;
}): string {
  const { base } = p;
  const lines = [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<feed xmlns="http://www.w3.org/2005/Atom">',
    `  <id>${xmlText(`urn:lovsync:feed:${p.selfPath.split('?')[0]}`)}</id>`,
    `  <title>${xmlText(p.title)}</title>`,
    `  <updated>${p.updated.toISOString()}</updated>`,
    '  <author><name>lovsync</name></author>',
    '  <generator>lovsync</generator>',
    `  <link rel="self" href="${xmlText(base + p.selfPath)}"/>`,
  ];
  if (p.next !== null)
    lines.push(
      `  <link rel="next" href="${xmlText(`${base}${p.selfPath.split('?')[0]}?before=${p.next}`)}"/>`,
    );
  for (const e of p.entries) {
    const change = e.payload.change + (e.payload.kind ? `, ${e.payload.kind}` : '');
    lines.push(
      '  <entry>',
      `    <id>${xmlText(entryId(e.runId, e.documentId))}</id>`,
      `    <title>${xmlText(`${e.payload.title} (${change})`)}</title>`,
      `    <updated>${new Date(e.finishedAt).toISOString()}</updated>`,
      `    <link rel="alternate" type="application/json" href="${xmlText(`${base}/api/documents/${encodeURIComponent(e.documentId)}`)}"/>`,
      `    <category term="${xmlText(`document.${e.payload.change}`)}" scheme="urn:lovsync:event"/>`,
      ...e.sections.map(
        (x) =>
          `    <category term="${xmlText(x.key)}" label="${xmlText(`${x.number ?? x.key} ${x.change}`)}" scheme="urn:lovsync:section"/>`,
      ),
      `    <summary type="text">${xmlText(summary(e))}</summary>`,
      '  </entry>',
    );
  }
  lines.push('</feed>', '');
  return lines.join('\n');
}

/**
 * Atom 1.0 feeds of document changes (issue 14): /feeds/changes.atom, /feeds/documents/<id>.atom,
 * /feeds/legal-areas/<slug>.atom, /feeds/ministries/<slug>.atom. 50 entries a page, older pages via
 * `?before=<event id>` (rel="next"); a strong ETag over the body answers If-None-Match with 304.
 */
export function feedsRouter(deps: { pool: pg.Pool }): Router {
  const router = Router();
  const send = async (req: Request, res: Response, filter: FeedFilter, title: string) => {
    const q = parseInput(feedQuery, req.query, 'query');
    const rows = await listFeedEntries(deps.pool, { filter, before: q.before, limit: PAGE + 1 });
    const entries = rows.slice(0, PAGE);
    const updated = entries[0]?.finishedAt ?? (await lastFinishedAt(deps.pool)) ?? new Date(0);
    const body = renderFeed({
      base: `${req.protocol}://${req.get('host') ?? 'localhost'}`,
      selfPath: req.originalUrl,
      title,
      entries,
      next: rows.length > PAGE ? entries.at(-1)!.eventId : null,
      updated: new Date(updated),
    });
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 32)}"`;
    res.set({ ETag: etag, 'Cache-Control': 'no-cache' });
    const inm = req.get('if-none-match');
    if (inm && inm.split(',').some((t) => t.trim().replace(/^W\//, '') === etag || t.trim() === '*')) {
      res.status(304).end();
      return;
    }
    res.type('application/atom+xml; charset=utf-8').send(body);
  };
  router.get('/changes.atom', (req, res) => send(req, res, { kind: 'all' }, 'lovsync: all changes'));
  router.get('/documents/*documentPath', async (req, res) => {
    const raw = (req.params as Record<string, unknown>).documentPath;
    const path = Array.isArray(raw) ? raw.map(String).join('/') : String(raw);
    if (!path.endsWith('.atom')) throw new HttpError(404, 'feeds end in .atom');
    const id = parseInput(documentIdSchema, path.slice(0, -'.atom'.length), 'document id');
    await send(req, res, { kind: 'document', documentId: id }, `lovsync: ${id}`);
  });
  router.get('/legal-areas/:file', async (req, res) => {
    if (!req.params.file.endsWith('.atom')) throw new HttpError(404, 'feeds end in .atom');
    const slug = parseInput(slugSchema, slugify(req.params.file.slice(0, -5)), 'legal area');
    await send(req, res, { kind: 'legal_area', slug }, `lovsync: legal area ${slug}`);
  });
  router.get('/ministries/:file', async (req, res) => {
    if (!req.params.file.endsWith('.atom')) throw new HttpError(404, 'feeds end in .atom');
    const slug = parseInput(slugSchema, slugify(req.params.file.slice(0, -5)), 'ministry');
    await send(req, res, { kind: 'ministry', slug }, `lovsync: ministry ${slug}`);
  });
  return router;
}
