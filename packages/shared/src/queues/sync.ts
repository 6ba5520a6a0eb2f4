import type { Job, Queue } from 'bullmq';
import { z } from 'zod';
import type { QueueDefinition } from './definition.ts';

export const SYNC_QUEUE = 'sync';

export const syncTriggerSchema = z.enum(['schedule', 'poll', 'manual', 'api']);
export type SyncTrigger = z.infer<typeof syncTriggerSchema>;

export const syncJobSchema = z.object({
  trigger: syncTriggerSchema,
  force: z.boolean().default(false),
  /** Overrides LOVDATA_DATASET_FILTER for this run; null = all datasets. Absent = the configured filter. */
  filter: z.string().min(1).nullable().optional(),
  requestedAt: z.iso.datetime(),
  /**
   * The run this job started: written into the job (job.updateData) as soon as the run exists, so a
   * retried attempt continues that run and `lovsync run`, `sync --wait` and the reconciler can tell
   * which run a job holds. Absent until then (a request never carries one).
   */
  runId: z.number().int().positive().optional(),
});
export type SyncJobData = z.infer<typeof syncJobSchema>;

/**
 * Coalescing: requests that arrive while a sync is waiting collapse into that waiting job (BullMQ
 * deduplication id). The handler drops the key as soon as it starts, so a request arriving while a
 * sync runs queues exactly one more sync (run after the current one: the queue's global
 * concurrency is 1). Forced requests coalesce separately so a force is never swallowed by a plain one.
 */
export function syncDeduplicationId(force: boolean): string {
  return force ? 'sync-request-force' : 'sync-request';
}

/** Stable id of the cron job scheduler (upserted at start-up; one schedule however many replicas). */
export const SYNC_SCHEDULER_ID = 'sync-cron';

/** A forced sync was refused: one was accepted less than FORCED_SYNC_MIN_INTERVAL_SECONDS ago. */
export class ForcedSyncRateLimitedError extends Error {
  constructor(
    readonly retryAfterSeconds: number,
    readonly intervalSeconds: number,
  ) {
    super(
      `a forced sync (full re-download) was accepted less than ${intervalSeconds} s ago ` +
        `(FORCED_SYNC_MIN_INTERVAL_SECONDS); try again in ${retryAfterSeconds} s, or request a plain sync`,
    );
    this.name = 'ForcedSyncRateLimitedError';
  }
}

export const syncQueue: QueueDefinition<SyncJobData> = {
  name: SYNC_QUEUE,
  service: 'sync',
  schema: syncJobSchema,
  // A failed sync is redone by the next trigger anyway (lastModified only advances after the diff
  // commits), so few attempts; the backoff covers a short outage. Downloads retry transient HTTP
  // errors themselves (withRetries), and a retried attempt does not download again a dataset that
  // already failed in its run. Finished jobs are kept bounded: Redis runs with noeviction.
  jobOptions: {
    attempts: 3,
    backoff: { type: 'exponential', delay: 30_000 },
    removeOnComplete: { count: 200 },
    removeOnFail: { count: 500 },
  },
  // A sync downloads and hashes whole archives (minutes): its lock is renewed every lockDuration/2
  // while the event loop runs, which it does between chunks; 120 s survives a slow chunk.
  worker: { lockDuration: 120_000, stalledInterval: 30_000, maxStalledCount: 2 },
  // One sync at a time: concurrency 1 here, and a global concurrency of 1 set on the queue.
  concurrency: () => 1,
};

/**
 * Asks for a sync. Requests made while one is waiting coalesce into it (deduplication id); the
 * handler clears that id when it starts, so a request during a running sync queues exactly one more.
 * Forced syncs coalesce the same way and, with `forcedMinIntervalSeconds`, at most one is accepted
 * per interval: a forced request arriving later while none is waiting is refused with
 * ForcedSyncRateLimitedError (a flood of forced requests cannot re-download everything over and over).
 */
export async function requestSync(
  queues: { sync: Queue<SyncJobData> },
  p: { trigger: SyncTrigger; force?: boolean; filter?: string | null },
  opts: { forcedMinIntervalSeconds?: number } = {},
): Promise<Job<SyncJobData>> {
  const data: SyncJobData = {
    trigger: p.trigger,
    force: p.force ?? false,
    ...(p.filter !== undefined ? { filter: p.filter } : {}),
    requestedAt: new Date().toISOString(),
  };
  const deduplication = { id: syncDeduplicationId(data.force) };
  const interval = opts.forcedMinIntervalSeconds ?? 0;
  if (data.force && interval > 0) {
    const waiting = async () => {
      const id = await queues.sync.getDeduplicationJobId(deduplication.id);
      return id ? await queues.sync.getJob(id) : undefined;
    };
    // A forced sync already waiting takes this request (coalesced, not counted against the limit).
    const queued = await waiting();
    if (queued) return queued;
    // The ioredis client under the queue (BullMQ's own type narrows it to the commands it uses).
    const client = (await queues.sync.getBackend().client) as unknown as {
      set(key: string, value: string, px: 'PX', ms: number, nx: 'NX'): Promise<string | null>;
      pttl(key: string): Promise<number>;
    };
    const key = queues.sync.toKey('forced-sync-accepted');
    const accepted = await client.set(key, data.requestedAt, 'PX', interval * 1000, 'NX');
    if (accepted !== 'OK') {
      const raced = await waiting();
      if (raced) return raced;
      const ttl = await client.pttl(key);
      throw new ForcedSyncRateLimitedError(Math.max(1, Math.ceil(ttl / 1000)), interval);
    }
  }
  return queues.sync.add('sync', data, { deduplication });
}

/** Upserts the cron job scheduler (stable id: one schedule however many replicas start). */
export async function upsertSyncSchedule(
  queues: { sync: Queue<SyncJobData> },
  schedule: { pattern: string; tz: string },
): Promise<void> {
  await queues.sync.upsertJobScheduler(SYNC_SCHEDULER_ID, schedule, {
    name: 'sync',
    data: { trigger: 'schedule', force: false, requestedAt: new Date(0).toISOString() },
    opts: syncQueue.jobOptions,
  });
}
