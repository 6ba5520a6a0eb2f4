import type { Queue } from 'bullmq';
import { z } from 'zod';
import type { QueueDefinition } from './definition.ts';

export const DIFF_QUEUE = 'diff';

export const diffJobSchema = z.object({
  runId: z.number().int().positive(),
  dataset: z.string().min(1),
  /** True when the dataset vanished from the list: an empty manifest, every file becomes removed. */
  vanished: z.boolean().default(false),
});
export type DiffJobData = z.infer<typeof diffJobSchema>;

/** `diff-<runId>-<dataset>`: one diff per dataset per run, never a `:` in it. */
export function diffJobId(runId: number, dataset: string): string {
  return `diff-${runId}-${dataset.replace(/[^A-Za-z0-9._-]/g, '_')}`;
}

export const diffQueue: QueueDefinition<DiffJobData> = {
  name: DIFF_QUEUE,
  service: 'differ',
  schema: diffJobSchema,
  // Pure database work: retried on connection loss, 10 attempts from 2 s so a Postgres restart
  // passes. (Waiting for an older diff of the same dataset is a delay, not an attempt.)
  jobOptions: {
    attempts: 10,
    backoff: { type: 'exponential', delay: 2_000 },
    removeOnComplete: { count: 1_000 },
    removeOnFail: { count: 1_000 },
  },
  // A diff of the largest dataset commits in seconds; a job stalls when its process dies and is
  // retried that many times (the reconciler also re-derives lost diffs from Postgres).
  worker: { lockDuration: 60_000, stalledInterval: 15_000, maxStalledCount: 5 },
  // Diffs of different datasets are independent; the dataset row lock orders those of one dataset.
  concurrency: () => 2,
};

/**
 * Adds the diff job of (run, dataset). The deterministic job id makes it idempotent: the sync, a
 * retried sync attempt and the reconciler may all add it, and Redis keeps one.
 */
export async function enqueueDiff(queues: { diff: Queue<DiffJobData> }, data: DiffJobData): Promise<void> {
  await queues.diff.add('diff', data, { jobId: diffJobId(data.runId, data.dataset) });
}
