import type pg from 'pg';
import { enqueueParses, type ParseJobData, type Queues } from '@lovsync/shared/queues';

/**
 * The parse jobs still owed for a run (optionally one dataset, or only these file_changes ids):
 * file_changes rows still pending.
 */
export async function pendingParseJobs(
  pool: pg.Pool,
  runId: number,
  dataset?: string,
  ids?: number[],
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
       AND parse_status = 'pending' ORDER BY id`,
    [runId, dataset ?? null, ids ?? null],
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
 */
export async function enqueuePendingParses(
  pool: pg.Pool,
  queues: Queues,
  runId: number,
  dataset?: string,
): Promise<number> {
  const jobs = await pendingParseJobs(pool, runId, dataset);
  await enqueueParses(queues, jobs);
  return jobs.length;
}
