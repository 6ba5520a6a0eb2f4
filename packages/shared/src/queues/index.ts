import { Queue, type DefaultJobOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { DELIVER_QUEUE, type DeliverJobData } from './deliver.ts';
import { DIFF_QUEUE, type DiffJobData } from './diff.ts';
import { PARSE_QUEUE, type ParseJobData } from './parse.ts';
import { SYNC_QUEUE, type SyncJobData } from './sync.ts';

export * from './sync.ts';
export * from './diff.ts';
export * from './parse.ts';
export * from './deliver.ts';

export const QUEUE_NAMES = [SYNC_QUEUE, DIFF_QUEUE, PARSE_QUEUE, DELIVER_QUEUE] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

/**
 * Every queue's retry and retention policy, in one place.
 * - sync: a failed sync is redone by the next trigger anyway (lastModified only advances after the
 *   diff commits), so few attempts; backoff covers a short upstream outage.
 * - diff: pure database work; retried on connection loss or while an older diff of the same
 *   dataset is still pending (ordering guard).
 * - parse: many attempts with exponential backoff for database/network errors; malformed XML
 *   throws UnrecoverableError and is recorded at once.
 * Completed/failed jobs are kept bounded so Redis (noeviction) never fills up; Postgres keeps the
 * history that matters (sync_runs, file_changes).
 */
export const JOB_OPTIONS: Record<QueueName, DefaultJobOptions> = {
  sync: {
    attempts: 3,
    backoff: { type: 'exponential', delay: 30_000 },
    removeOnComplete: { count: 200 },
    removeOnFail: { count: 500 },
  },
  diff: {
    attempts: 10,
    backoff: { type: 'exponential', delay: 2_000 },
    removeOnComplete: { count: 1_000 },
    removeOnFail: { count: 1_000 },
  },
  parse: {
    attempts: 5,
    backoff: { type: 'exponential', delay: 1_000 },
    removeOnComplete: { count: 10_000, age: 7 * 24 * 3600 },
    removeOnFail: { count: 20_000 },
  },
  // deliver: attempts and backoff are set per job from DELIVERY_* (services/deliver); the delivery
  // log in Postgres (deliveries) is the record, Redis keeps only recent jobs.
  deliver: {
    removeOnComplete: { count: 5_000, age: 7 * 24 * 3600 },
    removeOnFail: { count: 5_000 },
  },
};

/**
 * Worker settings per queue.
 * - lockDuration: a parse of the largest real file takes well under a second and the extractor
 *   yields to the event loop every 64 KiB, so 60 s leaves a wide margin for a 50 MB document on a
 *   busy node before the lock lapses and the job is considered stalled.
 * - sync downloads and hashes whole archives (minutes): its lock is renewed by BullMQ every
 *   lockDuration/2 while the event loop runs, which it does between chunks.
 * - maxStalledCount: a job stalls when its process dies; it is retried that many times before
 *   BullMQ fails it. The differ's reconciler also re-derives lost jobs from Postgres.
 */
export const WORKER_SETTINGS: Record<
  QueueName,
  { lockDuration: number; stalledInterval: number; maxStalledCount: number }
> = {
  sync: { lockDuration: 120_000, stalledInterval: 30_000, maxStalledCount: 2 },
  diff: { lockDuration: 60_000, stalledInterval: 15_000, maxStalledCount: 5 },
  parse: { lockDuration: 60_000, stalledInterval: 15_000, maxStalledCount: 5 },
  // A POST is bounded by DELIVERY_TIMEOUT_SECONDS; a worker killed mid-POST loses its lock after
  // lockDuration and the same delivery (same id) is sent again.
  deliver: { lockDuration: 60_000, stalledInterval: 15_000, maxStalledCount: 20 },
};

export interface Queues {
  sync: Queue<SyncJobData>;
  diff: Queue<DiffJobData>;
  parse: Queue<ParseJobData>;
  deliver: Queue<DeliverJobData>;
  close(): Promise<void>;
}

/**
 * The producers of the three queues, sharing one connection; each owns its queue's default job options.
 * Connection errors go to `onError` (default: ignored; the connection's owner reports them): a Queue
 * without an error listener prints every failed reconnect as a stack trace.
 */
export function createQueues(
  connection: Redis,
  prefix: string,
  onError: (err: Error, queue: QueueName) => void = () => undefined,
): Queues {
  const make = <T>(name: QueueName) => {
    const q = new Queue<T>(name, { connection, prefix, defaultJobOptions: JOB_OPTIONS[name] });
    q.on('error', (err: Error) => onError(err, name));
    return q;
  };
  const sync = make<SyncJobData>(SYNC_QUEUE);
  const diff = make<DiffJobData>(DIFF_QUEUE);
  const parse = make<ParseJobData>(PARSE_QUEUE);
  const deliver = make<DeliverJobData>(DELIVER_QUEUE);
  return {
    sync,
    diff,
    parse,
    deliver,
    async close() {
      await Promise.all([sync.close(), diff.close(), parse.close(), deliver.close()]);
    },
  };
}

/** The worker options of a queue, honouring JOB_LOCK_SECONDS when it is set. */
export function workerSettings(
  queue: QueueName,
  lockSeconds?: number,
): { lockDuration: number; stalledInterval: number; maxStalledCount: number } {
  const base = WORKER_SETTINGS[queue];
  if (!lockSeconds) return base;
  const lockDuration = lockSeconds * 1000;
  return {
    ...base,
    lockDuration,
    stalledInterval: Math.min(base.stalledInterval, Math.max(1000, lockDuration / 2)),
  };
}
