import { Worker } from 'bullmq';
import type { ServiceContext } from '@lovsync/shared/context';
import {
  JOB_OPTIONS,
  SYNC_QUEUE,
  SYNC_SCHEDULER_ID,
  requestSync,
  workerSettings,
  syncJobSchema,
  type SyncJobData,
} from '@lovsync/shared/queues';
import { UnrecoverableError } from 'bullmq';
import { fetchDatasetList } from './lovdata-client.ts';
import { matchesFilter, runSync, type SyncRunResult } from './sync-run.ts';

/** The single sync worker: concurrency 1 here and a global concurrency of 1 on the queue. */
export async function createSyncWorker(ctx: ServiceContext): Promise<Worker<SyncJobData, SyncRunResult>> {
  await ctx.queues.sync.setGlobalConcurrency(1);
  const worker = new Worker<SyncJobData, SyncRunResult>(
    SYNC_QUEUE,
    async (job) => {
      await job.removeDeduplicationKey().catch(() => undefined);
      const parsed = syncJobSchema.safeParse(job.data);
      if (!parsed.success) throw new UnrecoverableError(`invalid sync payload: ${parsed.error.message}`);
      const runId = (job.data as { runId?: unknown }).runId;
      return runSync(ctx, { ...parsed.data, ...(typeof runId === 'number' ? { runId } : {}) }, job);
    },
    {
      connection: ctx.workerConnection,
      prefix: ctx.config.QUEUE_PREFIX,
      concurrency: 1,
      ...workerSettings('sync', ctx.config.JOB_LOCK_SECONDS),
    },
  );
  attachWorkerLogging(worker, ctx, SYNC_QUEUE);
  return worker;
}

export function attachWorkerLogging(worker: Worker, ctx: ServiceContext, queue: string): void {
  const log = ctx.log.child({ service: queue, queue });
  worker.on('error', (err) => log.error({ err: err.message }, 'worker error'));
  worker.on('failed', (job, err) =>
    log.warn({ jobId: job?.id, attempt: job?.attemptsMade, err: err.message }, 'job failed'),
  );
  worker.on('stalled', (jobId) =>
    log.warn({ jobId }, 'job stalled (its worker died or blocked); it will be retried'),
  );
}

/** Upserts the cron job scheduler (stable id: one schedule however many replicas start). */
export async function upsertSyncSchedule(ctx: ServiceContext): Promise<void> {
  await ctx.queues.sync.upsertJobScheduler(
    SYNC_SCHEDULER_ID,
    { pattern: ctx.config.SYNC_CRON, tz: ctx.config.SYNC_TZ },
    {
      name: 'sync',
      data: { trigger: 'schedule', force: false, requestedAt: new Date(0).toISOString() },
      opts: JOB_OPTIONS.sync,
    },
  );
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
