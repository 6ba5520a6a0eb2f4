/**
 * run_datasets: one row per (run, dataset), its place in the run lifecycle. Every change of its
 * status is one function here; the whole lifecycle (sync_runs, run_datasets, file_changes) is drawn
 * in runs.ts.
 */
import type pg from 'pg';

type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

export type RunDatasetStatus = 'downloading' | 'manifested' | 'diffed' | 'unchanged' | 'failed';

/**
 * (none | any) -> downloading: the sync starts (or, in a retried job, restarts) reading the archive;
 * only while the run is running. Returns false when the run has ended (nothing written).
 */
export async function markDatasetDownloading(
  db: Queryable,
  p: { runId: number; dataset: string; lastModified: Date | null },
): Promise<boolean> {
  const res = await db.query(
    `INSERT INTO run_datasets (run_id, dataset, status, last_modified)
     SELECT $1, $2, 'downloading', $3 FROM sync_runs WHERE id = $1 AND status = 'running'
     ON CONFLICT (run_id, dataset) DO UPDATE SET status = 'downloading', error = NULL, updated_at = now()`,
    [p.runId, p.dataset, p.lastModified],
  );
  return (res.rowCount ?? 0) > 0;
}

/** downloading -> unchanged: the server answered 304 to the conditional request. */
export async function markDatasetNotModified(
  db: Queryable,
  p: { runId: number; dataset: string },
): Promise<void> {
  await db.query(
    `UPDATE run_datasets SET status = 'unchanged', updated_at = now() WHERE run_id = $1 AND dataset = $2 AND status = 'downloading'`,
    [p.runId, p.dataset],
  );
}

/**
 * none -> unchanged: the dataset is not read in this run, because its lastModified did not move
 * (`lastModified`) or because it is missing from the list but kept (`error` says why).
 */
export async function recordDatasetUnchanged(
  db: Queryable,
  p: { runId: number; dataset: string; lastModified?: Date | null; error?: string },
): Promise<void> {
  await db.query(
    `INSERT INTO run_datasets (run_id, dataset, status, last_modified, error) VALUES ($1, $2, 'unchanged', $3, $4)
     ON CONFLICT (run_id, dataset) DO NOTHING`,
    [p.runId, p.dataset, p.lastModified ?? null, p.error ?? null],
  );
}

/** downloading -> manifested: the manifest is written (in the caller's transaction), the diff is owed. */
export async function markDatasetManifested(
  db: Queryable,
  p: {
    runId: number;
    dataset: string;
    etag: string | null;
    archiveBytes: number;
    fileCount: number;
    bytesDownloaded: number;
    timings: Record<string, number>;
  },
): Promise<void> {
  await db.query(
    `UPDATE run_datasets SET status = 'manifested', etag = $3, archive_bytes = $4, file_count = $5,
       bytes_downloaded = $6, timings = $7, updated_at = now()
     WHERE run_id = $1 AND dataset = $2`,
    [p.runId, p.dataset, p.etag, p.archiveBytes, p.fileCount, p.bytesDownloaded, p.timings],
  );
}

/** none -> manifested (vanished): the dataset left the list; its diff (an empty manifest) removes its files. */
export async function recordDatasetVanished(
  db: Queryable,
  p: { runId: number; dataset: string },
): Promise<void> {
  await db.query(
    `INSERT INTO run_datasets (run_id, dataset, status, vanished) VALUES ($1, $2, 'manifested', true)
     ON CONFLICT (run_id, dataset) DO NOTHING`,
    [p.runId, p.dataset],
  );
}

/** downloading -> failed: the download or the archive failed; nothing was committed for the dataset. */
export async function markDatasetSyncFailed(
  db: Queryable,
  p: { runId: number; dataset: string; error: string; entriesRefused: number; refused: unknown[] },
): Promise<void> {
  await db.query(
    `UPDATE run_datasets SET status = 'failed', error = $3, entries_refused = $4, refused = $5, updated_at = now()
     WHERE run_id = $1 AND dataset = $2`,
    [p.runId, p.dataset, p.error, p.entriesRefused, JSON.stringify(p.refused)],
  );
}

/** manifested -> diffed: the diff committed (in the diff transaction). */
export async function markDatasetDiffed(
  db: Queryable,
  p: { runId: number; dataset: string; fileCount: number; diffMs: number },
): Promise<void> {
  await db.query(
    `UPDATE run_datasets SET status = 'diffed', file_count = $3,
       timings = COALESCE(timings, '{}'::jsonb) || jsonb_build_object('diffMs', $4::int), updated_at = now()
     WHERE run_id = $1 AND dataset = $2`,
    [p.runId, p.dataset, p.fileCount, p.diffMs],
  );
}

/** manifested -> diffed (superseded): a newer run already diffed the dataset; nothing is applied. */
export async function markDatasetSuperseded(
  db: Queryable,
  p: { runId: number; dataset: string; byRunId: number },
): Promise<void> {
  await db.query(
    `UPDATE run_datasets SET status = 'diffed', error = $3, updated_at = now() WHERE run_id = $1 AND dataset = $2`,
    [p.runId, p.dataset, `superseded by run ${p.byRunId}`],
  );
}

/**
 * manifested -> failed, and its manifest entries dropped: the run ended before the diff, so the
 * manifest is released and a later run redoes the dataset.
 */
export async function releaseManifest(
  db: Queryable,
  p: { runId: number; dataset: string; why: string },
): Promise<void> {
  await db.query(
    `UPDATE run_datasets SET status = 'failed', error = $3, updated_at = now()
     WHERE run_id = $1 AND dataset = $2 AND status = 'manifested'`,
    [p.runId, p.dataset, `${p.why}; its manifest was released (the next run redoes the dataset)`],
  );
  await db.query('DELETE FROM manifest_entries WHERE run_id = $1 AND dataset = $2', [p.runId, p.dataset]);
}

/** manifested -> failed: the dataset's diff job failed for good (seen by the reconciler). */
export async function markDatasetDiffFailed(
  db: Queryable,
  p: { runId: number; dataset: string; error: string },
): Promise<void> {
  await db.query(
    `UPDATE run_datasets SET status = 'failed', error = $3 WHERE run_id = $1 AND dataset = $2 AND status = 'manifested'`,
    [p.runId, p.dataset, p.error],
  );
}
