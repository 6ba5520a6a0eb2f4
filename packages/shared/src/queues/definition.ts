import type { DefaultJobOptions } from 'bullmq';
import type { z } from 'zod';
import type { Config } from '../config.ts';

/** Lock and stall settings of a queue's workers (see each queue file for why they have their values). */
export interface WorkerSettings {
  lockDuration: number;
  stalledInterval: number;
  maxStalledCount: number;
}

/**
 * What a queue is: its name, its payload contract, the options of every job added to it, and how
 * its workers run. One per queue file (sync.ts, diff.ts, parse.ts, deliver.ts); createQueues makes the producers'
 * queues and createQueueWorker (worker.ts) the workers from it.
 */
export interface QueueDefinition<T> {
  name: 'sync' | 'diff' | 'parse' | 'deliver';
  /** The `service` of its workers' log lines. */
  service: string;
  schema: z.ZodType<T>;
  jobOptions: DefaultJobOptions;
  worker: WorkerSettings;
  /** Jobs at once per worker process. */
  concurrency(config: Config): number;
  /**
   * The delay before a retry of a job added with a custom backoff type (BullMQ calls the worker's
   * backoffStrategy for any type but 'fixed' and 'exponential'); absent: the queue uses built-ins only.
   */
  backoffStrategy?(config: Config): (attemptsMade: number) => number;
}
