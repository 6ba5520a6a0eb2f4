/**
 * The run lifecycle. Every change of a status below is one function in packages/shared/src/db/queries
 * (runs.ts, run-datasets.ts, file-changes.ts); raw SQL elsewhere writes no status column except on
 * the marked hot paths (test/structure/status-writes.test.ts checks it).
 *
 * sync_runs.status (this file), one row per run:
 *
 *   createRun -> running --maybeCompleteRun--> succeeded | partial | failed
 *                   \------failRun-----------> failed  (list unreadable, sync died, run interrupted)
 *
 *   counters: finishSyncPhase (sync_finished_at, datasets_*, entries_refused, bytes_downloaded),
 *   addUnchangedFiles (files_unchanged, once per committed diff), maybeCompleteRun (files_*,
 *   parse_*, datasets_changed), touchSyncHeartbeat (sync_heartbeat_at while the sync is alive).
 *
 * run_datasets.status (run-datasets.ts), one row per (run, dataset):
 *
 *   markDatasetDownloading -> downloading --markDatasetManifested--> manifested --markDatasetDiffed--> diffed
 *     downloading --markDatasetNotModified (304)--> unchanged       manifested --markDatasetSuperseded--> diffed
 *     downloading --markDatasetSyncFailed--------> failed          manifested --releaseManifest-------> failed
 *     downloading --failRun----------------------> failed          manifested --markDatasetDiffFailed-> failed
 *                                                                   manifested --failRun---------------> failed
 *   recordDatasetUnchanged -> unchanged   (lastModified did not move, or kept though missing from the list)
 *   recordDatasetVanished  -> manifested  (vanished from the list: an empty manifest, all files removed)
 *
 * file_changes.parse_status (file-changes.ts), one row per changed file, inserted by the diff:
 *
 *   pending --recordParseOutcome (document written) | markParseCollision (lost a dokid collision)
 *           | markParseSucceeded (nothing to write: superseded, kept, tombstoned, not XML)--> succeeded
 *   pending --markParseFailed (the parse job failed for good, or the reconciler saw it fail)--> failed
 *
 * documents.status (documents.ts), one row per document: upsertDocument -> active
 *   --tombstoneDocument--> removed --upsertDocument (revived)--> active
 *
 * A run completes (maybeCompleteRun, exactly once) when its sync phase is over, no dataset is
 * downloading or manifested and no file_changes row is pending.
 */
import type pg from 'pg';
import type { SyncTrigger } from '../../queues/sync.ts';

type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

export type RunStatus = 'running' | 'succeeded' | 'partial' | 'failed';

export interface RunRow {
  id: number;
  trigger: SyncTrigger;
  status: RunStatus;
  force: boolean;
  datasetFilter: string | null;
  startedAt: Date;
  syncFinishedAt: Date | null;
  finishedAt: Date | null;
  datasetsChecked: number;
  datasetsChanged: number;
  datasetsFailed: number;
  filesAdded: number;
  filesModified: number;
  filesRemoved: number;
  filesUnchanged: number;
  parseTotal: number;
  parseSucceeded: number;
  parseFailed: number;
  entriesRefused: number;
  bytesDownloaded: number;
  error: string | null;
}

const RUN_COLUMNS = `id, trigger, status, force, dataset_filter AS "datasetFilter", started_at AS "startedAt",
  sync_finished_at AS "syncFinishedAt", finished_at AS "finishedAt", datasets_checked AS "datasetsChecked",
  datasets_changed AS "datasetsChanged", datasets_failed AS "datasetsFailed", files_added AS "filesAdded",
  files_modified AS "filesModified", files_removed AS "filesRemoved", files_unchanged AS "filesUnchanged",
  parse_total AS "parseTotal", parse_succeeded AS "parseSucceeded", parse_failed AS "parseFailed",
  entries_refused AS "entriesRefused", bytes_downloaded AS "bytesDownloaded", error`;

export async function createRun(
  db: Queryable,
  p: { trigger: SyncTrigger; force: boolean; datasetFilter: string | null },
): Promise<number> {
  const res = await db.query<{ id: number }>(
    'INSERT INTO sync_runs (trigger, force, dataset_filter) VALUES ($1, $2, $3) RETURNING id',
    [p.trigger, p.force, p.datasetFilter],
  );
  return res.rows[0]!.id;
}

/**
 * Runs are read from the sync_runs_live view (migration 0009): while a run is in progress its
 * counts are what file_changes and run_datasets have committed so far, never the zeros its row holds
 * until completion.
 */
export async function getRun(db: Queryable, id: number): Promise<RunRow | undefined> {
  const res = await db.query<RunRow>(`SELECT ${RUN_COLUMNS} FROM sync_runs_live WHERE id = $1`, [id]);
  return res.rows[0];
}

export async function listRuns(db: Queryable, p: { limit: number; beforeId?: number }): Promise<RunRow[]> {
  const res = await db.query<RunRow>(
    `SELECT ${RUN_COLUMNS} FROM sync_runs_live WHERE ($2::int IS NULL OR id < $2) ORDER BY id DESC LIMIT $1`,
    [p.limit, p.beforeId ?? null],
  );
  return res.rows;
}

/** The live sync's sign of life: the reconciler never fails a run whose heartbeat is fresh. */
export async function touchSyncHeartbeat(db: Queryable, runId: number): Promise<void> {
  await db.query(`UPDATE sync_runs SET sync_heartbeat_at = now() WHERE id = $1 AND status = 'running'`, [
    runId,
  ]);
}

/** A committed diff's unchanged files count towards its run (in the diff transaction). */
export async function addUnchangedFiles(db: Queryable, runId: number, unchanged: number): Promise<void> {
  await db.query('UPDATE sync_runs SET files_unchanged = files_unchanged + $2 WHERE id = $1', [
    runId,
    unchanged,
  ]);
}

/** The sync phase is over: every diff job the run will have is enqueued (or the sync failed). */
export async function finishSyncPhase(
  db: Queryable,
  runId: number,
  p: { datasetsChecked: number; error?: string | null },
): Promise<void> {
  await db.query(
    `UPDATE sync_runs SET sync_finished_at = now(), datasets_checked = $2,
       error = COALESCE($3, error),
       -- Until the run completes: datasets whose archive was read again; at completion
       -- maybeCompleteRun counts only datasets whose content changed (a file_changes row).
       datasets_changed = (SELECT count(*) FROM run_datasets WHERE run_id = $1 AND status IN ('manifested', 'diffed')),
       datasets_failed = (SELECT count(*) FROM run_datasets WHERE run_id = $1 AND status = 'failed'),
       entries_refused = (SELECT COALESCE(sum(entries_refused), 0) FROM run_datasets WHERE run_id = $1),
       bytes_downloaded = (SELECT COALESCE(sum(bytes_downloaded), 0) FROM run_datasets WHERE run_id = $1)
     WHERE id = $1`,
    [runId, p.datasetsChecked, p.error ?? null],
  );
}

/**
 * Completes the run when its sync phase is over, every dataset's diff is committed and no parse is
 * pending. Called by whoever finished something (a diff commit, a parse commit, the end of the sync
 * phase) AFTER its own commit: the last one to commit always sees everything, and the
 * `status = 'running'` guard makes the completion happen exactly once however many replicas race.
 * Status: failed when the sync itself failed for every dataset or more than `threshold` of the
 * parse jobs failed; partial when some parse jobs or some datasets failed; else succeeded.
 */
export async function maybeCompleteRun(
  db: Queryable,
  runId: number,
  threshold: number,
): Promise<RunStatus | null> {
  // Cheap guard first (partial index on pending rows): every parse job calls this, and counting a
  // run's file_changes each time would make a run of n files cost O(n^2).
  const blocked = await db.query<{ blocked: boolean }>({
    name: 'run-completion-blocked',
    text: `SELECT EXISTS (SELECT 1 FROM file_changes WHERE run_id = $1 AND parse_status = 'pending')
         OR EXISTS (SELECT 1 FROM run_datasets WHERE run_id = $1 AND status IN ('downloading', 'manifested'))
         OR NOT EXISTS (SELECT 1 FROM sync_runs WHERE id = $1 AND status = 'running' AND sync_finished_at IS NOT NULL)
         AS blocked`,
    values: [runId],
  });
  if (blocked.rows[0]!.blocked) return null;
  const res = await db.query<{ status: RunStatus }>(
    `WITH fc AS (
       SELECT count(*) AS total,
              count(*) FILTER (WHERE parse_status = 'succeeded') AS ok,
              count(*) FILTER (WHERE parse_status = 'failed') AS bad,
              count(*) FILTER (WHERE change = 'added') AS added,
              count(*) FILTER (WHERE change = 'modified') AS modified,
              count(*) FILTER (WHERE change = 'removed') AS removed,
              count(DISTINCT dataset) AS datasets
       FROM file_changes WHERE run_id = $1
     ), rd AS (
       SELECT count(*) FILTER (WHERE status = 'failed') AS failed,
              count(*) FILTER (WHERE status IN ('manifested', 'diffed')) AS changed,
              count(*) FILTER (WHERE status = 'unchanged') AS unchanged
       FROM run_datasets WHERE run_id = $1
     )
     UPDATE sync_runs r SET
       finished_at = now(),
       parse_total = fc.total, parse_succeeded = fc.ok, parse_failed = fc.bad,
       files_added = fc.added, files_modified = fc.modified, files_removed = fc.removed,
       datasets_changed = fc.datasets,
       status = CASE
         WHEN r.error IS NOT NULL AND rd.changed = 0 AND rd.unchanged = 0 THEN 'failed'
         WHEN fc.total > 0 AND fc.bad::float8 / fc.total > $2 THEN 'failed'
         WHEN fc.bad > 0 OR rd.failed > 0 OR r.error IS NOT NULL THEN 'partial'
         ELSE 'succeeded' END
     FROM fc, rd
     WHERE r.id = $1 AND r.status = 'running' AND r.sync_finished_at IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM run_datasets WHERE run_id = $1 AND status IN ('downloading', 'manifested'))
       AND NOT EXISTS (SELECT 1 FROM file_changes WHERE run_id = $1 AND parse_status = 'pending')
     RETURNING r.status`,
    [runId, threshold],
  );
  return res.rows[0]?.status ?? null;
}

/**
 * Marks a run failed outright (e.g. the dataset list could not be read, or its sync died) and
 * releases what it still held: its undiffed manifests are dropped and their run_datasets rows
 * failed, so a later run redoes those datasets instead of waiting behind them forever.
 */
export async function failRun(db: Queryable, runId: number, error: string): Promise<void> {
  const message = storableText(error);
  await db.query(
    `WITH r AS (
       UPDATE sync_runs SET status = 'failed', error = $2, finished_at = now(),
         sync_finished_at = COALESCE(sync_finished_at, now())
       WHERE id = $1 AND status = 'running' RETURNING id
     ), rd AS (
       UPDATE run_datasets SET status = 'failed', updated_at = now(),
         error = COALESCE(error, CASE status WHEN 'manifested' THEN 'run failed before this dataset was diffed; its manifest was released (the next run redoes it)' ELSE 'sync interrupted' END)
       WHERE run_id = $1 AND status IN ('downloading', 'manifested') RETURNING dataset
     ), m AS (
       DELETE FROM manifest_entries WHERE run_id = $1 RETURNING 1
     )
     SELECT (SELECT count(*) FROM r) AS runs, (SELECT count(*) FROM rd) AS datasets, (SELECT count(*) FROM m) AS entries`,
    [runId, message],
  );
}

/** At most this many characters of an error or refusal reason are stored. */
export const MAX_STORED_TEXT = 4000;

/**
 * Text that Postgres can store in a text or jsonb column: NUL and the other C0 control characters
 * (and DEL) are written as `\xNN` escapes, lone surrogates are replaced, and the text is capped at
 * `max` characters. Every refusal reason and error that quotes upstream data goes through this.
 */
export function storableText(text: string, max = MAX_STORED_TEXT): string {
  let out = text.replace(
    // eslint-disable-next-line no-control-regex -- escaping control characters is the point
    /[\u0000-\u0008\u000b-\u001f\u007f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
  out = out.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
  if (out.length > max) out = `${out.slice(0, max - 30)}... (${out.length - max + 30} more characters)`;
  return out;
}
