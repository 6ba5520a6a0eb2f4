import type pg from 'pg';
import {
  addUnchangedFiles,
  markDatasetDiffed,
  markDatasetSuperseded,
  releaseManifest,
  withTransaction,
} from '@lovsync/shared/db';
import type { DiffJobData } from '@lovsync/shared/queues';

/** Retry later: an older run's diff of the same dataset must commit first. */
export class DiffOrderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DiffOrderError';
  }
}

export class DiffInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DiffInputError';
  }
}

export interface DiffCounts {
  added: number;
  modified: number;
  removed: number;
  unchanged: number;
  /** false when this (run, dataset) had been diffed already (a redelivered job). */
  applied: boolean;
  ms: number;
}

/**
 * The exact hash diff of one (run, dataset), set-based, in ONE transaction: writes file_changes,
 * brings `files` to lovlig's semantics, advances the dataset's lastModified and drops the manifest.
 * Idempotent: a (run, dataset) already diffed is left as it is.
 */
export async function applyDiff(pool: pg.Pool, job: DiffJobData): Promise<DiffCounts> {
  const t0 = performance.now();
  return withTransaction(pool, async (c) => {
    const { runId, dataset } = job;
    await c.query('INSERT INTO datasets (name) VALUES ($1) ON CONFLICT (name) DO NOTHING', [dataset]);
    const ds = (
      await c.query<{ last_run_id: number | null }>(
        'SELECT last_run_id FROM datasets WHERE name = $1 FOR UPDATE',
        [dataset],
      )
    ).rows[0]!;
    // Lock order everywhere: sync_runs, then run_datasets (failRun takes them in this order too).
    const run = (
      await c.query<{ status: string }>('SELECT status FROM sync_runs WHERE id = $1 FOR SHARE', [runId])
    ).rows[0];
    const rdStatus = (
      await c.query<{ status: string }>(
        'SELECT status FROM run_datasets WHERE run_id = $1 AND dataset = $2',
        [runId, dataset],
      )
    ).rows[0]?.status;
    if (run?.status !== 'running' && rdStatus === 'manifested') {
      // The run ended (failed: its sync died) before this diff: nothing is committed under it, and
      // its manifest is released so a later run redoes the dataset.
      await releaseManifest(c, {
        runId,
        dataset,
        why: `run ${runId} was ${run?.status ?? 'deleted'} before its diff`,
      });
      return { added: 0, modified: 0, removed: 0, unchanged: 0, applied: false, ms: 0 };
    }
    const rd = (
      await c.query<{
        status: string;
        vanished: boolean;
        last_modified: Date | null;
        etag: string | null;
        archive_bytes: number | null;
      }>(
        'SELECT status, vanished, last_modified, etag, archive_bytes FROM run_datasets WHERE run_id = $1 AND dataset = $2 FOR UPDATE',
        [runId, dataset],
      )
    ).rows[0];
    if (!rd) throw new DiffInputError(`run ${runId} has no manifest for dataset ${dataset}`);
    if (rd.status === 'diffed')
      return { added: 0, modified: 0, removed: 0, unchanged: 0, applied: false, ms: 0 };
    if (rd.status !== 'manifested')
      throw new DiffInputError(`run ${runId} dataset ${dataset} is ${rd.status}, not manifested`);
    // Manifests of older runs that ended without their diff (left by an earlier version, or by a
    // crash between two statements) never block this one: they are released here.
    const stale = await c.query<{ run_id: number }>(
      `SELECT rd.run_id FROM run_datasets rd JOIN sync_runs r ON r.id = rd.run_id
       WHERE rd.dataset = $1 AND rd.run_id < $2 AND rd.status = 'manifested' AND r.status <> 'running'`,
      [dataset, runId],
    );
    for (const { run_id } of stale.rows)
      await releaseManifest(c, {
        runId: run_id,
        dataset,
        why: `run ${run_id} ended before this dataset was diffed`,
      });
    const older = await c.query(
      `SELECT run_id FROM run_datasets WHERE dataset = $1 AND run_id < $2 AND status = 'manifested' LIMIT 1`,
      [dataset, runId],
    );
    if (older.rowCount)
      throw new DiffOrderError(`run ${older.rows[0].run_id} has an undiffed manifest of ${dataset}`);
    if (ds.last_run_id !== null && ds.last_run_id > runId) {
      await markDatasetSuperseded(c, { runId, dataset, byRunId: ds.last_run_id });
      await c.query('DELETE FROM manifest_entries WHERE run_id = $1 AND dataset = $2', [runId, dataset]);
      return { added: 0, modified: 0, removed: 0, unchanged: 0, applied: false, ms: 0 };
    }
    const lm = rd.last_modified;

    // 1. The change rows: manifest vs current files (a removed file that comes back is added).
    // raw SQL hot path: the diff statement (measured, bench/diff.ts); inserts the rows pending.
    const changes = await c.query<{ change: string; n: number }>(
      `WITH m AS (SELECT path, hash, size FROM manifest_entries WHERE run_id = $1 AND dataset = $2),
            f AS (SELECT path, hash, size, status FROM files WHERE dataset = $2),
            ins AS (
              INSERT INTO file_changes (run_id, dataset, path, change, old_hash, new_hash, old_size, new_size)
              SELECT $1, $2, COALESCE(m.path, f.path),
                     CASE WHEN f.path IS NULL OR f.status = 'removed' THEN 'added'
                          WHEN m.path IS NULL THEN 'removed' ELSE 'modified' END,
                     CASE WHEN f.status = 'removed' THEN NULL ELSE f.hash END, m.hash,
                     CASE WHEN f.status = 'removed' THEN NULL ELSE f.size END, m.size
              FROM m FULL OUTER JOIN f ON f.path = m.path
              WHERE (m.path IS NULL AND f.status <> 'removed')
                 OR (f.path IS NULL)
                 OR (m.path IS NOT NULL AND f.status = 'removed')
                 OR (m.hash <> f.hash)
              ON CONFLICT (run_id, dataset, path) DO NOTHING
              RETURNING change)
       SELECT change, count(*)::int AS n FROM ins GROUP BY change`,
      [runId, dataset],
    );
    const count = (k: string) => changes.rows.find((r) => r.change === k)?.n ?? 0;

    // 2. files: unchanged rows that were added/modified last time become unchanged (their
    //    last_changed stays); changed rows take the new version with last_changed = lastModified.
    // raw SQL hot path: the diff statement (files.status), set-based over the whole dataset.
    await c.query(
      `UPDATE files f SET status = 'unchanged', last_run_id = $1
       WHERE f.dataset = $2 AND f.status IN ('added', 'modified')
         AND NOT EXISTS (SELECT 1 FROM file_changes fc WHERE fc.run_id = $1 AND fc.dataset = $2 AND fc.path = f.path)`,
      [runId, dataset],
    );
    // raw SQL hot path: the diff statement (files.status), set-based over the whole dataset.
    await c.query(
      `INSERT INTO files (dataset, path, hash, size, status, last_changed, last_run_id)
       SELECT fc.dataset, fc.path, COALESCE(fc.new_hash, fc.old_hash), COALESCE(fc.new_size, fc.old_size), fc.change, $3, $1
       FROM file_changes fc WHERE fc.run_id = $1 AND fc.dataset = $2
       ON CONFLICT (dataset, path) DO UPDATE SET hash = EXCLUDED.hash, size = EXCLUDED.size, status = EXCLUDED.status,
         last_changed = EXCLUDED.last_changed, last_run_id = EXCLUDED.last_run_id`,
      [runId, dataset, lm],
    );
    const total = (
      await c.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM manifest_entries WHERE run_id = $1 AND dataset = $2',
        [runId, dataset],
      )
    ).rows[0]!.n;
    const unchanged = total - count('added') - count('modified');

    // 3. Bookkeeping, all in the same transaction: the dataset's lastModified advances only here.
    await c.query('DELETE FROM manifest_entries WHERE run_id = $1 AND dataset = $2', [runId, dataset]);
    const ms = Math.round(performance.now() - t0);
    await markDatasetDiffed(c, { runId, dataset, fileCount: total, diffMs: ms });
    await addUnchangedFiles(c, runId, unchanged);
    await c.query(
      `UPDATE datasets SET last_modified = COALESCE($2, last_modified), etag = COALESCE($3, etag),
         archive_bytes = COALESCE($4, archive_bytes), file_count = $5, last_run_id = $6, listed = $7, updated_at = now()
       WHERE name = $1`,
      [dataset, lm, rd.etag, rd.archive_bytes, total, runId, !rd.vanished],
    );
    return {
      added: count('added'),
      modified: count('modified'),
      removed: count('removed'),
      unchanged,
      applied: true,
      ms,
    };
  });
}
