/**
 * file_changes.parse_status: every changed file of a run is inserted `pending` by the diff (the
 * diff statement, a marked hot path in services/differ/src/hash-diff.ts) and leaves it once, to
 * `succeeded` (the parse job's outcome statement) or `failed` (here). The whole lifecycle is drawn
 * in runs.ts.
 */
import type pg from 'pg';

type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

export type ParseStatus = 'pending' | 'succeeded' | 'failed';

/**
 * pending -> failed: the file's parse job failed for good (seen by the reconciler). Returns whether
 * the row was still pending (a row already decided is left as it is).
 */
export async function markParseFailed(
  db: Queryable,
  p: { fileChangeId: number; error: string },
): Promise<boolean> {
  const res = await db.query(
    `UPDATE file_changes SET parse_status = 'failed', parse_error = $2, parsed_at = now() WHERE id = $1 AND parse_status = 'pending'`,
    [p.fileChangeId, p.error],
  );
  return (res.rowCount ?? 0) > 0;
}
