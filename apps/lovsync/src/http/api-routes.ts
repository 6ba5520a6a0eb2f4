import express, { Router, type Request } from 'express';
import type pg from 'pg';
import type { Logger } from '@lovsync/shared/logger';
import { ForcedSyncRateLimitedError, requestSync, type Queues } from '@lovsync/shared/queues';
import { getRun, listRuns } from '@lovsync/shared/db';
import { HttpError, parseInput } from './http-error.ts';
import {
  changesQuery,
  documentIdSchema,
  listRunsQuery,
  runIdSchema,
  sectionsQuery,
  triggerSyncBody,
} from './input-schemas.ts';
import { getDocument, listRunChanges, listRunDatasets, listSections } from '@lovsync/shared/db';
import { withTimeout } from './with-timeout.ts';

/** How long POST /api/runs waits for Redis before answering 503. */
const ENQUEUE_TIMEOUT_MS = 5_000;

/**
 * The JSON API under /api. Reads go to Postgres; POST /api/runs enqueues a sync through `queues`,
 * which must sit on a producer connection (fails fast when Redis is down).
 */
export function apiRouter(deps: {
  pool: pg.Pool;
  queues: Queues;
  log: Logger;
  /** FORCED_SYNC_MIN_INTERVAL_SECONDS: at most one forced sync accepted per interval (0 = no limit). */
  forcedMinIntervalSeconds?: number;
}): Router {
  const { pool, queues, log } = deps;
  const router = Router();

  router.get('/runs', async (req, res) => {
    const q = parseInput(listRunsQuery, req.query, 'query');
    const items = await listRuns(pool, { limit: q.limit, beforeId: q.before });
    const last = items.at(-1);
    res.json({ items, limit: q.limit, nextBefore: items.length === q.limit && last ? last.id : null });
  });

  router.post('/runs', express.json({ limit: '4kb', strict: true }), async (req, res) => {
    // Only application/json is accepted: a cross-site HTML form or a "simple" cross-origin fetch
    // cannot send it without a CORS preflight (which we never grant), so a browser that has cached
    // the Basic credentials cannot be tricked into triggering syncs.
    if (!/^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '')) {
      throw new HttpError(415, 'send Content-Type: application/json with a body like {"force": false}');
    }
    const body = parseInput(triggerSyncBody, req.body ?? {}, 'body');
    let job;
    try {
      job = await withTimeout(
        requestSync(
          queues,
          { trigger: 'api', force: body.force },
          { forcedMinIntervalSeconds: deps.forcedMinIntervalSeconds },
        ),
        ENQUEUE_TIMEOUT_MS,
        'redis',
      );
    } catch (err: unknown) {
      if (err instanceof ForcedSyncRateLimitedError) {
        res.setHeader('Retry-After', String(err.retryAfterSeconds));
        throw new HttpError(429, err.message);
      }
      log.warn({ err: (err as Error).message }, 'could not enqueue a sync');
      throw new HttpError(503, 'the queue is unavailable (Redis); try again later');
    }
    log.info({ jobId: job.id, force: body.force }, 'sync requested over HTTP');
    res.status(202).json({ jobId: job.id, queue: job.queueName, force: body.force, status: 'queued' });
  });

  router.get('/runs/:id', async (req, res) => {
    const id = parseInput(runIdSchema, req.params.id, 'run id');
    const run = await getRun(pool, id);
    if (!run) throw new HttpError(404, `run ${id} not found`);
    res.json({ ...run, datasets: await listRunDatasets(pool, id) });
  });

  router.get('/runs/:id/changes', async (req, res) => {
    const id = parseInput(runIdSchema, req.params.id, 'run id');
    const q = parseInput(changesQuery, req.query, 'query');
    if (!(await getRun(pool, id))) throw new HttpError(404, `run ${id} not found`);
    const page = await listRunChanges(pool, { runId: id, kind: q.kind, limit: q.limit, offset: q.offset });
    res.json({ runId: id, kind: q.kind, ...page });
  });

  // A document id contains slashes (NL/lov/1999-03-26-17). Clients may send it URL-encoded as one
  // segment (/api/documents/NL%2Flov%2F1999-03-26-17) or as plain segments (the wildcard routes).
  const sendDocument = async (documentId: string, res: express.Response) => {
    const id = parseInput(documentIdSchema, documentId, 'document id');
    const doc = await getDocument(pool, id);
    if (!doc) throw new HttpError(404, `document ${id} not found`);
    res.json(doc);
  };
  const sendSections = async (documentId: string, req: Request, res: express.Response) => {
    const id = parseInput(documentIdSchema, documentId, 'document id');
    const q = parseInput(sectionsQuery, req.query, 'query');
    const page = await listSections(pool, { documentId: id, limit: q.limit, offset: q.offset });
    if (page.total === 0 && !(await getDocument(pool, id)))
      throw new HttpError(404, `document ${id} not found`);
    res.json({ documentId: id, ...page });
  };
  router.get('/documents/:documentId', (req, res) => sendDocument(req.params.documentId, res));
  router.get('/documents/:documentId/sections', (req, res) => sendSections(req.params.documentId, req, res));
  router.get('/documents/*documentPath', async (req, res) => {
    const segments = wildcardSegments(req.params as Record<string, unknown>, 'documentPath');
    if (segments.length > 1 && segments.at(-1) === 'sections') {
      await sendSections(segments.slice(0, -1).join('/'), req, res);
    } else {
      await sendDocument(segments.join('/'), res);
    }
  });

  return router;
}

function wildcardSegments(params: Record<string, unknown>, name: string): string[] {
  const value = params[name];
  if (Array.isArray(value)) return value.map(String);
  return typeof value === 'string' ? value.split('/') : [];
}
