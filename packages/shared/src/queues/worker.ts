import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { ServiceContext } from '../context.ts';
import type { Logger } from '../logger.ts';
import { workerSettings, type QueueDefinition } from './index.ts';

export interface JobTools {
  /** Child logger of this attempt: { service, queue, jobId, attempt }. */
  log: Logger;
  /** The lock token (for job.moveToDelayed). */
  token?: string;
}

/**
 * The one way a worker is made: the queue's payload is validated against its contract (an invalid
 * payload is an UnrecoverableError: retrying cannot fix it), each attempt gets a child logger
 * { service, queue, jobId, attempt }, error/failed/stalled are logged, and lock, stall,
 * concurrency and custom backoff settings come from the queue definition and the config.
 */
/** No payload at all: what BullMQ hands over for a job id whose hash is gone. */
export function payloadLost(data: unknown): boolean {
  return (
    data === undefined ||
    data === null ||
    (typeof data === 'object' && !Array.isArray(data) && Object.keys(data).length === 0)
  );
}

export function createQueueWorker<T, R>(
  ctx: ServiceContext,
  queue: QueueDefinition<T>,
  handler: (data: T, job: Job<T, R>, tools: JobTools) => Promise<R>,
  opts: { concurrency?: number; autorun?: boolean } = {},
): Worker<T, R> {
  const log = ctx.log.child({ service: queue.service, queue: queue.name });
  const worker = new Worker<T, R>(
    queue.name,
    async (job: Job<T, R>, token?: string) => {
      const jobLog = log.child({ jobId: job.id, attempt: job.attemptsMade + 1 });
      // A job whose Redis hash vanished under its id (Redis restarted or flushed mid-run) arrives
      // with no data at all: that is a lost job, not a bad payload (no contract accepts {}). It is
      // dropped without a failure, so that no file is marked failed for it; Postgres still holds the
      // work and the reconciler (parse, diff) or the dispatcher (deliver) queues it again.
      if (payloadLost(job.data)) {
        jobLog.warn(
          `${queue.name} job arrived without its data (lost in Redis); dropped, the work is re-derived from Postgres`,
        );
        // BullMQ cannot finish a job whose hash is gone ("Missing key ... moveToFinished") and would
        // leave its id in the active list, where it looks live to the reconciler for ever (the stall
        // check only moves it back to wait). Its remnants go, so the job is simply absent.
        const id = job.id!;
        await ctx.workerConnection
          .multi()
          .lrem(worker.toKey('active'), 0, id)
          .srem(worker.toKey('stalled'), id)
          .del(worker.toKey(id), `${worker.toKey(id)}:lock`)
          .exec();
        return undefined as R;
      }
      const parsed = queue.schema.safeParse(job.data);
      if (!parsed.success)
        throw new UnrecoverableError(`invalid ${queue.name} payload: ${parsed.error.message}`);
      return handler(parsed.data, job, { log: jobLog, token });
    },
    {
      connection: ctx.workerConnection,
      prefix: ctx.config.QUEUE_PREFIX,
      concurrency: opts.concurrency ?? queue.concurrency(ctx.config),
      autorun: opts.autorun ?? true,
      ...workerSettings(queue.name, ctx.config.JOB_LOCK_SECONDS),
      ...(queue.backoffStrategy ? { settings: { backoffStrategy: queue.backoffStrategy(ctx.config) } } : {}),
    },
  );
  worker.on('error', (err) => log.error({ err: err.message }, 'worker error'));
  worker.on('failed', (job, err) =>
    log.warn(
      { jobId: job?.id, attempt: job?.attemptsMade, err: err.message },
      `${queue.name} job attempt failed`,
    ),
  );
  worker.on('stalled', (jobId) =>
    log.warn({ jobId }, `${queue.name} job stalled (its worker died or blocked); it will be retried`),
  );
  return worker;
}
