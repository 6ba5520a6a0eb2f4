import { DelayedError, UnrecoverableError, type Worker } from 'bullmq';
import type { ServiceContext } from '@lovsync/shared/context';
import { maybeCompleteRun } from '@lovsync/shared/db';
import { diffQueue, type DiffJobData } from '@lovsync/shared/queues';
import { createQueueWorker } from '@lovsync/shared/queues/worker';
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
  return createQueueWorker(
    ctx,
    diffQueue,
    async (data, job, { token }) => {
      try {
        return await processDiffJob(ctx, data);
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
    opts,
  );
}
