import { UnrecoverableError, type Job } from 'bullmq';
import type { ServiceContext } from '@lovsync/shared/context';
import {
  createRun,
  failRun,
  finishSyncPhase,
  maybeCompleteRun,
  recordDatasetUnchanged,
  recordDatasetVanished,
  storableText,
  touchSyncHeartbeat,
} from '@lovsync/shared/db';
import { enqueueDiff, type SyncJobData } from '@lovsync/shared/queues';
import { fetchDatasetList, withRetries, type DatasetListing } from './lovdata-client.ts';
import { ProgressReporter } from './progress.ts';
import { syncDataset, type DatasetSyncResult } from './sync-dataset.ts';

export interface SyncRunResult {
  runId: number;
  checked: number;
  results: DatasetSyncResult[];
  vanished: string[];
  /** Missing from the list, but kept: not yet missing in DATASET_MISSING_RUNS consecutive runs, or refused by MAX_REMOVAL_SHARE. */
  kept: string[];
  refusedListEntries: { entry: unknown; reason: string }[];
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  });
  await Promise.all(workers);
  return out;
}

/** At most this many failed datasets are spelled out in the run's error (all are on run_datasets). */
const MAX_ERRORS_LISTED = 10;

export function matchesFilter(name: string, filter: string | null): boolean {
  return filter === null || name.includes(filter);
}

/**
 * One sync cycle: list the datasets, sync each changed one (bounded concurrency), give vanished
 * datasets an empty-manifest diff, close the sync phase. The run id is kept in the job data so a
 * retried job continues the same run instead of starting another.
 */
export async function runSync(ctx: ServiceContext, data: SyncJobData, job?: Job): Promise<SyncRunResult> {
  const { config, database } = ctx;
  const filter = data.filter === undefined ? config.LOVDATA_DATASET_FILTER : data.filter;
  let runId = data.runId;
  if (runId !== undefined) {
    // A retried job of a run that has ended meanwhile (interrupted, or failed by the reconciler)
    // does not bring that run back: the next sync redoes its datasets under a new run.
    const status = (
      await database.pool.query<{ status: string }>('SELECT status FROM sync_runs WHERE id = $1', [runId])
    ).rows[0]?.status;
    if (status !== 'running') {
      ctx.log.warn({ runId, status }, 'sync job of a run that has already ended: not redone');
      return { runId, checked: 0, results: [], vanished: [], kept: [], refusedListEntries: [] };
    }
  }
  if (runId === undefined) {
    runId = await createRun(database.pool, {
      trigger: data.trigger,
      force: data.force,
      datasetFilter: filter,
    });
    await job?.updateData({ ...data, runId });
  }
  const log = ctx.log.child({ runId, trigger: data.trigger });
  log.info({ force: data.force, filter }, 'sync started');
  // The sign of life the reconciler trusts even when Redis lost this job (a restart mid-download).
  const beatRun = runId;
  await touchSyncHeartbeat(database.pool, beatRun);
  const heartbeat = setInterval(
    () => {
      touchSyncHeartbeat(database.pool, beatRun).catch((err: Error) =>
        log.warn({ err: err.message }, 'sync heartbeat failed'),
      );
    },
    Math.max(1000, Math.floor((config.SYNC_STALE_SECONDS * 1000) / 6)),
  );
  heartbeat.unref();
  try {
    return await syncPhase(ctx, data, { runId, filter, log, job });
  } finally {
    clearInterval(heartbeat);
  }
}

async function syncPhase(
  ctx: ServiceContext,
  data: SyncJobData,
  p: { runId: number; filter: string | null; log: ServiceContext['log']; job?: Job },
): Promise<SyncRunResult> {
  const { config, database } = ctx;
  const { runId, filter, log, job } = p;

  let listed: DatasetListing[];
  let refusedListEntries: SyncRunResult['refusedListEntries'];
  try {
    const list = await withRetries(
      () => fetchDatasetList(config.LOVDATA_API_URL, config.LOVDATA_API_TIMEOUT * 1000),
      {
        attempts: 5,
        baseDelayMs: 500,
        maxDelayMs: 30_000,
        onRetry: (err, delayMs) => log.warn({ err: err.message, delayMs }, 'dataset list failed, retrying'),
      },
    );
    refusedListEntries = list.refused;
    for (const r of list.refused) log.warn({ entry: r.entry }, r.reason);
    listed = list.datasets.filter((d) => matchesFilter(d.filename, filter));
  } catch (err) {
    const message = storableText(
      `cannot read the dataset list: ${(err as Error).message} ` +
        `(LOVDATA_API_URL=${config.LOVDATA_API_URL}; offline? \`pnpm demo\` runs lovsync against the bundled emulator)`,
    );
    log.error({ err: message }, 'sync failed');
    await failRun(database.pool, runId, message);
    throw new UnrecoverableError(message);
  }

  if (listed.length > config.LOVDATA_MAX_DATASETS) {
    // A broken or hostile answer (thousands of names): refused before a single archive is requested.
    const message = `the dataset list names ${listed.length} datasets${filter === null ? '' : ` matching ${JSON.stringify(filter)}`}, more than LOVDATA_MAX_DATASETS ${config.LOVDATA_MAX_DATASETS}; refused (nothing requested)`;
    log.error({ datasets: listed.length }, message);
    await failRun(database.pool, runId, message);
    throw new UnrecoverableError(message);
  }

  const known = await database.pool.query<{ name: string; last_modified: Date | null }>(
    'SELECT name, last_modified FROM datasets WHERE listed',
  );
  const storedByName = new Map(known.rows.map((r) => [r.name, r.last_modified]));
  const listedNames = new Set(listed.map((d) => d.filename));
  const missing = known.rows
    .map((r) => r.name)
    .filter((n) => matchesFilter(n, filter) && !listedNames.has(n));
  if (listed.length === 0 && missing.length > 0) {
    const message = `the dataset list has no dataset matching ${JSON.stringify(filter)}; refusing to mark ${missing.length} known dataset(s) removed`;
    await failRun(database.pool, runId, message);
    throw new UnrecoverableError(message);
  }
  await database.pool.query(
    'UPDATE datasets SET missing_runs = 0 WHERE name = ANY($1::text[]) AND missing_runs <> 0',
    [[...listedNames]],
  );
  const { vanished, kept, refusal } = await decideVanished(ctx, runId, missing, data.force);
  // A retried job (its process died) continues its run: datasets already manifested keep their
  // manifest (their diff job is re-added idempotently), datasets that already failed keep their
  // failure (their download had its withRetries attempts; the next run redoes them, so BullMQ's
  // retries of the sync job never multiply a download's attempts), the others are redone.
  const done = await database.pool.query<{ dataset: string; status: string; error: string | null }>(
    `SELECT dataset, status, error FROM run_datasets WHERE run_id = $1 AND status IN ('manifested', 'diffed', 'failed')`,
    [runId],
  );
  const alreadyDone = new Map(done.rows.map((r) => [r.dataset, r]));

  const progress = new ProgressReporter(job);
  const results = await mapLimit(listed, config.LOVDATA_MAX_DOWNLOAD_CONCURRENCY, async (listing) => {
    const previous = alreadyDone.get(listing.filename)?.status;
    if (previous === 'failed') {
      const error = alreadyDone.get(listing.filename)?.error ?? 'failed in an earlier attempt of this sync';
      return { dataset: listing.filename, outcome: 'failed', error } as DatasetSyncResult;
    }
    if (previous) {
      if (previous === 'manifested') {
        await enqueueDiff(ctx.queues, { runId: runId!, dataset: listing.filename, vanished: false });
      }
      return { dataset: listing.filename, outcome: 'manifested' } as DatasetSyncResult;
    }
    const storedLm = storedByName.get(listing.filename);
    if (
      !data.force &&
      storedLm &&
      listing.lastModified &&
      storedLm.getTime() === listing.lastModified.getTime()
    ) {
      await recordDatasetUnchanged(database.pool, {
        runId: runId!,
        dataset: listing.filename,
        lastModified: listing.lastModified,
      });
      progress.finished(listing.filename, 'unchanged');
      log.info({ dataset: listing.filename }, 'dataset unchanged (same lastModified), skipped');
      return { dataset: listing.filename, outcome: 'unchanged' } as DatasetSyncResult;
    }
    return syncDataset(ctx, { runId: runId!, listing, force: data.force, job, progress });
  });

  for (const dataset of vanished) {
    await recordDatasetVanished(database.pool, { runId, dataset });
    await enqueueDiff(ctx.queues, { runId, dataset, vanished: true });
    log.warn({ dataset }, 'dataset vanished from the list: all its files will be marked removed');
  }
  for (const k of kept) log.warn({ dataset: k.dataset }, k.reason);
  const failed = results.filter((r) => r.outcome === 'failed');
  const errors = [
    ...failed.slice(0, MAX_ERRORS_LISTED).map((f) => `${f.dataset}: ${storableText(f.error ?? '', 500)}`),
    ...(failed.length > MAX_ERRORS_LISTED
      ? [`... and ${failed.length - MAX_ERRORS_LISTED} more failed dataset(s) (see run_datasets)`]
      : []),
    ...(refusal ? [refusal] : []),
    ...(refusal ? [] : kept.map((k) => `${k.dataset}: ${k.reason}`)),
  ];
  await finishSyncPhase(database.pool, runId, {
    datasetsChecked: listed.length,
    error: errors.length ? storableText(errors.join('\n')) : null,
  });
  const status = await maybeCompleteRun(database.pool, runId, config.PARSE_FAILURE_THRESHOLD);
  log.info(
    {
      checked: listed.length,
      manifested: results.filter((r) => r.outcome === 'manifested').length,
      failed: failed.length,
      vanished: vanished.length,
      status,
    },
    'sync phase finished',
  );
  return {
    runId,
    checked: listed.length,
    results,
    vanished,
    kept: kept.map((k) => k.dataset),
    refusedListEntries,
  };
}

/**
 * Which datasets missing from the list are removed in this run. One answer is never enough: a
 * dataset is removed once it has been missing in DATASET_MISSING_RUNS consecutive runs (or at once
 * in a forced run, the explicit command), and never when that would remove more than
 * MAX_REMOVAL_SHARE of all current files (unless forced). The others are kept, recorded on the run.
 */
async function decideVanished(
  ctx: ServiceContext,
  runId: number,
  missing: string[],
  force: boolean,
): Promise<{ vanished: string[]; kept: { dataset: string; reason: string }[]; refusal: string | null }> {
  const { pool } = ctx.database;
  const need = ctx.config.DATASET_MISSING_RUNS;
  const counts = new Map<string, number>();
  for (const dataset of missing) {
    // Counted once per run, however often a retried sync job gets here.
    const fresh = await pool.query(`SELECT 1 FROM run_datasets WHERE run_id = $1 AND dataset = $2`, [
      runId,
      dataset,
    ]);
    const res = await pool.query<{ missing_runs: number }>(
      `UPDATE datasets SET missing_runs = missing_runs + $2 WHERE name = $1 RETURNING missing_runs`,
      [dataset, fresh.rowCount ? 0 : 1],
    );
    counts.set(dataset, res.rows[0]?.missing_runs ?? 1);
  }
  const candidates = missing.filter((d) => force || counts.get(d)! >= need);
  const kept: { dataset: string; reason: string }[] = missing
    .filter((d) => !candidates.includes(d))
    .map((d) => ({
      dataset: d,
      reason: `missing from the dataset list (${counts.get(d)} of ${need} consecutive runs before it is removed); its files are kept`,
    }));
  let refusal: string | null = null;
  if (candidates.length > 0 && !force) {
    const share = ctx.config.MAX_REMOVAL_SHARE;
    const n = (
      await pool.query<{ removing: number; total: number }>(
        `SELECT count(*) FILTER (WHERE dataset = ANY($1::text[]))::int AS removing, count(*)::int AS total
         FROM files WHERE status <> 'removed'`,
        [candidates],
      )
    ).rows[0]!;
    if (n.removing > share * n.total) {
      refusal = `refusing to remove ${candidates.length} dataset(s) missing from the list (${candidates.join(', ')}): that would remove ${n.removing} of ${n.total} current files, more than MAX_REMOVAL_SHARE ${share}; a forced run (lovsync run --force) removes them`;
      for (const d of candidates) kept.push({ dataset: d, reason: refusal });
      candidates.length = 0;
    }
  }
  for (const k of kept) {
    await recordDatasetUnchanged(pool, { runId, dataset: k.dataset, error: storableText(k.reason) });
  }
  return { vanished: candidates, kept, refusal };
}
