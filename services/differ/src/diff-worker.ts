import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { ServiceContext } from '@lovsync/shared/context';
import { maybeCompleteRun } from '@lovsync/shared/db';
import { DIFF_QUEUE, workerSettings, diffJobSchema, type DiffJobData } from '@lovsync/shared/queues';
import { applyDiff, DiffInputError, DiffOrderError, type DiffCounts } from './hash-diff.ts';
import { enqueuePendingParses } from './parse-fanout.ts';

export interface DiffJobResult extends DiffCounts {
  enqueued: number;
}

/** The diff job: commit the diff, then (re-)enqueue every pending parse, then try to complete the run. */
export async function processDiffJob(ctx: ServiceContext, data: DiffJobData): Promise<DiffJobResult> {
  const log = ctx.log.child({ service: 'differ', runId: data.runId, dataset: data.dataset });
  const counts = await applyDiff(ctx.database.pool, data);
  if (counts.applied) log.info(counts, 'diff committed');
  const enqueued = await enqueuePendingParses(ctx.database.pool, ctx.queues, data.runId, data.dataset);
  const status = await maybeCompleteRun(ctx.database.pool, data.runId, ctx.config.PARSE_FAILURE_THRESHOLD);
  if (status) log.info({ status }, 'run finished');
  return { ...counts, enqueued };
}

export function createDiffWorker(
  ctx: ServiceContext,
  opts: { concurrency?: number } = {},
): Worker<DiffJobData, DiffJobResult> {
  const worker = new Worker<DiffJobData, DiffJobResult>(
    DIFF_QUEUE,
    async (job: Job<DiffJobData>, token?: string) => {
      const parsed = diffJobSchema.safeParse(job.data);
      if (!parsed.success) throw new UnrecoverableError(`invalid diff payload: ${parsed.error.message}`);
      try {
        return await processDiffJob(ctx, parsed.data);
      } catch (err) {
        if (err instanceof DiffInputError) throw new UnrecoverableError(err.message);
        if (err instanceof DiffOrderError) {
          // Wait for the older diff without spending an attempt.
          await job.moveToDelayed(Date.now() + 1_000, token);
          throw new DelayedError();
        }
        throw err;
      }
    },
    {
      connection: ctx.workerConnection,
      prefix: ctx.config.QUEUE_PREFIX,
      // Diffs of different datasets are independent; the dataset row lock orders those of one dataset.
      concurrency: opts.concurrency ?? 2,
      ...workerSettings('diff', ctx.config.JOB_LOCK_SECONDS),
    },
  );
  const log = ctx.log.child({ service: 'differ', queue: DIFF_QUEUE });
  worker.on('error', (err) => log.error({ err: err.message }, 'worker error'));
  worker.on('failed', (job, err) =>
    log.warn({ jobId: job?.id, attempt: job?.attemptsMade, err: err.message }, 'diff job failed'),
  );
  worker.on('stalled', (jobId) => log.warn({ jobId }, 'diff job stalled; it will be retried'));
  return worker;
}
