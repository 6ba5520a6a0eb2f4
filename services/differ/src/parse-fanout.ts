import type pg from 'pg';
import { parseJobId, type ParseJobData, type Queues } from '@lovsync/shared/queues';

const BATCH = 1000;

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
  const rows = await pool.query<{
    id: number;
    dataset: string;
    path: string;
    change: ParseJobData['change'];
    old_hash: string | null;
    new_hash: string | null;
  }>(
    `SELECT id, dataset, path, change, old_hash, new_hash FROM file_changes
     WHERE run_id = $1 AND ($2::text IS NULL OR dataset = $2) AND parse_status = 'pending' ORDER BY id`,
    [runId, dataset ?? null],
  );
  for (let i = 0; i < rows.rows.length; i += BATCH) {
    await queues.parse.addBulk(
      rows.rows.slice(i, i + BATCH).map((r) => ({
        name: 'parse',
        data: {
          runId,
          fileChangeId: r.id,
          dataset: r.dataset,
          path: r.path,
          change: r.change,
          newHash: r.new_hash,
          oldHash: r.old_hash,
        },
        opts: { jobId: parseJobId(runId, r.dataset, r.path) },
      })),
    );
  }
  return rows.rows.length;
}
