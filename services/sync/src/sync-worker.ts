import type { Worker } from 'bullmq';
import type { ServiceContext } from '@lovsync/shared/context';
import {
  requestSync,
  syncQueue,
  upsertSyncSchedule as upsertSchedule,
  type SyncJobData,
} from '@lovsync/shared/queues';
import { createQueueWorker } from '@lovsync/shared/queues/worker';
import { fetchDatasetList } from './lovdata-client.ts';
import { matchesFilter, runSync, type SyncRunResult } from './sync-run.ts';

/** The single sync worker: concurrency 1 here and a global concurrency of 1 on the queue. */
export async function createSyncWorker(ctx: ServiceContext): Promise<Worker<SyncJobData, SyncRunResult>> {
  await ctx.queues.sync.setGlobalConcurrency(1);
  return createQueueWorker(ctx, syncQueue, async (data, job) => {
    // From now on a new request queues one more sync instead of coalescing into this one.
    await job.removeDeduplicationKey().catch(() => undefined);
    return runSync(ctx, data, job);
  });
}

/** Upserts the cron job scheduler from SYNC_CRON / SYNC_TZ. */
export async function upsertSyncSchedule(ctx: ServiceContext): Promise<void> {
  await upsertSchedule(ctx.queues, { pattern: ctx.config.SYNC_CRON, tz: ctx.config.SYNC_TZ });
}

/**
 * Polls the dataset list every POLL_INTERVAL_SECONDS and requests a `poll` sync only when some
 * dataset's lastModified moved (or a dataset appeared or vanished).
 */
export function startPoller(ctx: ServiceContext): { stop(): void; check(): Promise<boolean> } {
  const log = ctx.log.child({ service: 'poller' });
  const check = async (): Promise<boolean> => {
    const filter = ctx.config.LOVDATA_DATASET_FILTER;
    const list = await fetchDatasetList(ctx.config.LOVDATA_API_URL, ctx.config.LOVDATA_API_TIMEOUT * 1000);
    const stored = await ctx.database.pool.query<{ name: string; last_modified: Date | null }>(
      'SELECT name, last_modified FROM datasets WHERE listed',
    );
    const byName = new Map(stored.rows.map((r) => [r.name, r.last_modified?.getTime() ?? null]));
    const listed = list.datasets.filter((d) => matchesFilter(d.filename, filter));
    const moved = listed.filter((d) => byName.get(d.filename) !== (d.lastModified?.getTime() ?? null));
    const vanished = stored.rows.filter(
      (r) => matchesFilter(r.name, filter) && !listed.some((d) => d.filename === r.name),
    );
    if (moved.length === 0 && vanished.length === 0) return false;
    log.info(
      { moved: moved.map((d) => d.filename), vanished: vanished.map((r) => r.name) },
      'datasets moved; requesting a sync',
    );
    await requestSync(ctx.queues, { trigger: 'poll' });
    return true;
  };
  const seconds = ctx.config.POLL_INTERVAL_SECONDS;
  const timer =
    seconds > 0
      ? setInterval(() => {
          check().catch((err: Error) => log.warn({ err: err.message }, 'poll failed'));
        }, seconds * 1000)
      : null;
  timer?.unref();
  return { stop: () => timer && clearInterval(timer), check };
}
