import type { Queue } from 'bullmq';
import { z } from 'zod';
import type { Config } from '../config.ts';
import type { QueueDefinition } from './definition.ts';

export const DELIVER_QUEUE = 'deliver';

/** One webhook POST: a deliveries row (subscription, run, batch). */
export const deliverJobSchema = z.object({
  deliveryRowId: z.number().int().positive(),
  subscriptionId: z.number().int().positive(),
  runId: z.number().int().positive(),
});
export type DeliverJobData = z.infer<typeof deliverJobSchema>;

/** `deliver-<deliveries.id>`: one job per delivery row; BullMQ ignores a second add while it exists. */
export function deliverJobId(deliveryRowId: number): string {
  return `deliver-${deliveryRowId}`;
}

/** The retry delay before attempt `attemptsMade + 1`: base * 2^(attemptsMade - 1), capped at max. */
export function deliveryBackoff(attemptsMade: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, Math.min(attemptsMade - 1, 40)));
}

/** Attempts needed so that the retries span at least `windowSeconds` with deliveryBackoff. */
export function deliveryAttempts(windowSeconds: number, baseMs: number, maxMs: number): number {
  let attempts = 1;
  let spent = 0;
  while (spent < windowSeconds * 1000 && attempts < 10_000) {
    spent += deliveryBackoff(attempts, baseMs, maxMs);
    attempts++;
  }
  return attempts;
}

export const deliverQueue: QueueDefinition<DeliverJobData> = {
  name: DELIVER_QUEUE,
  service: 'deliver',
  schema: deliverJobSchema,
  // Attempts and backoff are set per job from DELIVERY_* (enqueueDelivery below); the delivery log
  // in Postgres (deliveries) is the record, Redis keeps only recent jobs.
  jobOptions: {
    removeOnComplete: { count: 5_000, age: 7 * 24 * 3600 },
    removeOnFail: { count: 5_000 },
  },
  // A POST is bounded by DELIVERY_TIMEOUT_SECONDS; a worker killed mid-POST loses its lock after
  // lockDuration and the same delivery (same id) is sent again.
  worker: { lockDuration: 60_000, stalledInterval: 15_000, maxStalledCount: 20 },
  // POSTs wait on the network, not the CPU; one subscription's deliveries are still sent one after
  // another (only the head of each subscription is ever queued: enqueueHeads in dispatch.ts).
  concurrency: (config) => config.DELIVERY_CONCURRENCY,
  // Capped exponential backoff (DELIVERY_BACKOFF_BASE_MS doubling up to DELIVERY_BACKOFF_MAX_MS):
  // BullMQ's own exponential backoff has no cap, and a delivery is retried for a whole day.
  backoffStrategy: (config) => (attemptsMade) =>
    deliveryBackoff(attemptsMade, config.DELIVERY_BACKOFF_BASE_MS, config.DELIVERY_BACKOFF_MAX_MS),
};

/** The job option `backoff.type` that makes BullMQ call the deliver queue's backoffStrategy. */
export const DELIVERY_BACKOFF_TYPE = 'delivery';

/**
 * Queues the job of one pending deliveries row: retried with the queue's backoffStrategy for at
 * least DELIVERY_RETRY_SECONDS (then dead-lettered by the handler). A live job of the row is left
 * alone (null); one that ended while its row is still pending (BullMQ failed it after too many
 * stalls, or it was skipped behind an earlier delivery) is removed and added again.
 */
export async function enqueueDelivery(
  queues: { deliver: Queue<DeliverJobData> },
  data: DeliverJobData,
  config: Pick<Config, 'DELIVERY_RETRY_SECONDS' | 'DELIVERY_BACKOFF_BASE_MS' | 'DELIVERY_BACKOFF_MAX_MS'>,
): Promise<{ jobId: string; attempts: number } | null> {
  const jobId = deliverJobId(data.deliveryRowId);
  const existing = await queues.deliver.getJob(jobId);
  if (existing) {
    const state = await existing.getState();
    if (state !== 'completed' && state !== 'failed') return null;
    await existing.remove().catch(() => undefined);
  }
  const attempts = deliveryAttempts(
    config.DELIVERY_RETRY_SECONDS,
    config.DELIVERY_BACKOFF_BASE_MS,
    config.DELIVERY_BACKOFF_MAX_MS,
  );
  await queues.deliver.add('deliver', data, { jobId, attempts, backoff: { type: DELIVERY_BACKOFF_TYPE } });
  return { jobId, attempts };
}
