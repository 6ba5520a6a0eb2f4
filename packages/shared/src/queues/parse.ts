import { createHash } from 'node:crypto';
import type { Queue } from 'bullmq';
import { z } from 'zod';
import { HASH_HEX_RE } from '../hash.ts';
import type { QueueDefinition } from './definition.ts';

export const PARSE_QUEUE = 'parse';

const hash = z.string().regex(HASH_HEX_RE, 'must be an XXH3-128 hex digest');

export const parseJobSchema = z
  .object({
    runId: z.number().int().positive(),
    fileChangeId: z.number().int().positive(),
    dataset: z.string().min(1),
    path: z.string().min(1),
    change: z.enum(['added', 'modified', 'removed', 'reparse']),
    newHash: hash.nullable(),
    oldHash: hash.nullable(),
  })
  .refine((j) => (j.change === 'removed' ? j.oldHash !== null : j.newHash !== null), {
    message: 'added/modified/reparse jobs need newHash, removed jobs need oldHash',
  });
export type ParseJobData = z.infer<typeof parseJobSchema>;

/** `parse-<runId>-<hash of dataset+path>`: one job per file per run, never a `:` in it. */
export function parseJobId(runId: number, dataset: string, path: string): string {
  const h = createHash('sha1').update(dataset).update('\0').update(path).digest('hex').slice(0, 24);
  return `parse-${runId}-${h}`;
}

export const parseQueue: QueueDefinition<ParseJobData> = {
  name: PARSE_QUEUE,
  service: 'parser',
  schema: parseJobSchema,
  // Database/network errors are retried with exponential backoff from 1 s; malformed XML throws
  // UnrecoverableError and is recorded at once. There is one job per changed file, so finished jobs
  // are kept bounded (completed: a week, at most 10,000; failed: 20,000) and Redis (noeviction)
  // never fills up; Postgres (file_changes) keeps the history that matters.
  jobOptions: {
    attempts: 5,
    backoff: { type: 'exponential', delay: 1_000 },
    removeOnComplete: { count: 10_000, age: 7 * 24 * 3600 },
    removeOnFail: { count: 20_000 },
  },
  // A parse of the largest real file takes well under a second and the extractor yields to the
  // event loop every 64 KiB, so 60 s leaves a wide margin for a 50 MB document on a busy node before
  // the lock lapses and the job is considered stalled; a stalled job is retried 5 times.
  worker: { lockDuration: 60_000, stalledInterval: 15_000, maxStalledCount: 5 },
  concurrency: (config) => config.PARSER_CONCURRENCY,
};

/** addBulk in slices of this many jobs (one Redis round trip each, bounded memory). */
const BULK = 1000;

/**
 * Adds one parse job per file change. Deterministic job ids make a second add of the same job a
 * no-op, so the diff, a redelivered diff and the reconciler may all add them.
 */
export async function enqueueParses(
  queues: { parse: Queue<ParseJobData> },
  jobs: ParseJobData[],
): Promise<void> {
  for (let i = 0; i < jobs.length; i += BULK) {
    await queues.parse.addBulk(
      jobs.slice(i, i + BULK).map((data) => ({
        name: 'parse',
        data,
        opts: { jobId: parseJobId(data.runId, data.dataset, data.path) },
      })),
    );
  }
}
