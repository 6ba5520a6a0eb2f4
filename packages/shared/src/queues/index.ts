import { Queue, type DefaultJobOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { QueueDefinition, WorkerSettings } from './definition.ts';
import { deliverQueue, type DeliverJobData } from './deliver.ts';
import { diffQueue, type DiffJobData } from './diff.ts';
import { parseQueue, type ParseJobData } from './parse.ts';
import { syncQueue, type SyncJobData } from './sync.ts';

export * from './sync.ts';
export * from './diff.ts';
export * from './parse.ts';
export * from './deliver.ts';
export type { QueueDefinition, WorkerSettings } from './definition.ts';

/**
 * The queues. Each queue's file holds its contract (payload schema), its producer (which owns
 * the job id and options) and its worker settings, each with the reason for its values:
 *   sync.ts  -> requestSync, upsertSyncSchedule   (handler: services/sync/src/sync-worker.ts)
 *   diff.ts  -> enqueueDiff                       (handler: services/differ/src/diff-worker.ts)
 *   parse.ts -> enqueueParses                     (handler: services/parser/src/parse-worker.ts)
 *   deliver.ts -> enqueueDelivery                 (handler: services/deliver/src/deliver-worker.ts)
 */
export const QUEUES = { sync: syncQueue, diff: diffQueue, parse: parseQueue, deliver: deliverQueue } as const;
export const QUEUE_NAMES = ['sync', 'diff', 'parse', 'deliver'] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

/** Every queue's retry and retention policy (defined, with its reasons, in the queue's file). */
export const JOB_OPTIONS: Record<QueueName, DefaultJobOptions> = {
  sync: syncQueue.jobOptions,
  diff: diffQueue.jobOptions,
  parse: parseQueue.jobOptions,
  deliver: deliverQueue.jobOptions,
};

export interface Queues {
  sync: Queue<SyncJobData>;
  diff: Queue<DiffJobData>;
  parse: Queue<ParseJobData>;
  deliver: Queue<DeliverJobData>;
  close(): Promise<void>;
}

/**
 * The producers' side of the three queues, sharing one connection; each queue carries its default
 * job options. Connection errors go to `onError` (default: ignored; the connection's owner reports
 * them): a Queue without an error listener prints every failed reconnect as a stack trace.
 */
export function createQueues(
  connection: Redis,
  prefix: string,
  onError: (err: Error, queue: QueueName) => void = () => undefined,
): Queues {
  const make = <T>(def: QueueDefinition<T>) => {
    const q = new Queue<T>(def.name, { connection, prefix, defaultJobOptions: def.jobOptions });
    q.on('error', (err: Error) => onError(err, def.name));
    return q;
  };
  const sync = make(syncQueue);
  const diff = make(diffQueue);
  const parse = make(parseQueue);
  const deliver = make(deliverQueue);
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

/** The worker settings of a queue, honouring JOB_LOCK_SECONDS when it is set. */
export function workerSettings(queue: QueueName, lockSeconds?: number): WorkerSettings {
  const base = QUEUES[queue].worker;
  if (!lockSeconds) return base;
  const lockDuration = lockSeconds * 1000;
  return {
    ...base,
    lockDuration,
    stalledInterval: Math.min(base.stalledInterval, Math.max(1000, lockDuration / 2)),
  };
}
