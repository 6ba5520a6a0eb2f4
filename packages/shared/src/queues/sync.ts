import type { Job, Queue } from 'bullmq';
import { z } from 'zod';

export const SYNC_QUEUE = 'sync';

export const syncTriggerSchema = z.enum(['schedule', 'poll', 'manual', 'api']);
export type SyncTrigger = z.infer<typeof syncTriggerSchema>;

export const syncJobSchema = z.object({
  trigger: syncTriggerSchema,
  force: z.boolean().default(false),
  /** Overrides LOVDATA_DATASET_FILTER for this run; null = all datasets. Absent = the configured filter. */
  filter: z.string().min(1).nullable().optional(),
  requestedAt: z.iso.datetime(),
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

/**
 * Asks for a sync. Requests made while one is waiting coalesce into it (deduplication id); the
 * handler clears that id when it starts, so a request during a running sync queues exactly one more.
 */
export async function requestSync(
  queues: { sync: Queue<SyncJobData> },
  p: { trigger: SyncTrigger; force?: boolean; filter?: string | null },
): Promise<Job<SyncJobData>> {
  const data: SyncJobData = {
    trigger: p.trigger,
    force: p.force ?? false,
    ...(p.filter !== undefined ? { filter: p.filter } : {}),
    requestedAt: new Date().toISOString(),
  };
  return queues.sync.add('sync', data, { deduplication: { id: syncDeduplicationId(data.force) } });
}
