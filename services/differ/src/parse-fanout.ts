import type pg from 'pg';
import { enqueueParses, type ParseJobData, type Queues } from '@lovsync/shared/queues';

/**
 * Pending rows read (and enqueued) per page by the fan-out: what is held in memory at once, however
 * many files the run changed (a cold run of the whole corpus has one row per file).
 */
export const FANOUT_PAGE = 1000;

/**
 * The parse jobs still owed for a run (optionally one dataset, or only these file_changes ids):
 * file_changes rows still pending, in id order; with `page`, only the first `limit` rows after
 * `afterId` (keyset paging).
 */
export async function pendingParseJobs(
  pool: pg.Pool,
  runId: number,
  dataset?: string,
  ids?: number[],
  page?: { afterId: number; limit: number },
): Promise<ParseJobData[]> {
  const rows = await pool.query<{
    id: number;
    dataset: string;
    path: string;
    change: ParseJobData['change'];
    old_hash: string | null;
    new_hash: string | null;
  }>(
    `SELECT id, dataset, path, change, old_hash, new_hash FROM file_changes
     WHERE run_id = $1 AND ($2::text IS NULL OR dataset = $2) AND ($3::bigint[] IS NULL OR id = ANY($3))
       AND parse_status = 'pending' AND ($4::bigint IS NULL OR id > $4) ORDER BY id LIMIT $5`,
    [runId, dataset ?? null, ids ?? null, page?.afterId ?? null, page?.limit ?? null],
  );
  return rows.rows.map((r) => ({
    runId,
    fileChangeId: r.id,
    dataset: r.dataset,
    path: r.path,
    change: r.change,
    newHash: r.new_hash,
    oldHash: r.old_hash,
  }));
}

/**
 * Enqueues one parse job per file_changes row of (run, dataset) still pending, re-derived from
 * Postgres: a diff that died between its commit and this point, or a Redis that lost its data,
 * gets every job back. Deterministic job ids make a second enqueue of the same job a no-op.
 * Rows are read and enqueued a page (FANOUT_PAGE rows, by id) at a time, so memory is bounded by
 * the page, not by the run: a row that stops being pending meanwhile (parsed already) is skipped,
 * and no pending row is missed (rows only ever leave the pending state).
 */
export async function enqueuePendingParses(
  pool: pg.Pool,
  queues: Queues,
  runId: number,
  dataset?: string,
  pageSize = FANOUT_PAGE,
): Promise<number> {
  if (!Number.isInteger(pageSize) || pageSize < 1)
    throw new Error(`enqueuePendingParses: page size must be a positive integer, got ${pageSize}`);
  let enqueued = 0;
  let afterId = 0;
  for (;;) {
    const jobs = await pendingParseJobs(pool, runId, dataset, undefined, { afterId, limit: pageSize });
    if (jobs.length === 0) break;
    await enqueueParses(queues, jobs);
    enqueued += jobs.length;
    if (jobs.length < pageSize) break;
    afterId = jobs[jobs.length - 1]!.fileChangeId;
  }
  return enqueued;
}
