import type { Queue } from 'bullmq';
import type pg from 'pg';
import { getRun } from '@lovsync/shared/db';
import type { SyncJobProgress } from '@lovsync/sync';
import type { RunProgress } from './display.ts';

/**
 * Reads where a run stands: the sync job's per-dataset progress (BullMQ, written by the sync's
 * ProgressReporter) and the run's committed diff and parse counts (Postgres). Works for a run in
 * this process or in services elsewhere.
 */
export async function readRunProgress(
  deps: { pool: Pick<pg.Pool, 'query'>; syncQueue: Pick<Queue, 'getJob'> },
  p: { syncJobId: string; runId: number },
): Promise<RunProgress> {
  const [job, run, rd] = await Promise.all([
    deps.syncQueue.getJob(p.syncJobId).catch(() => undefined),
    getRun(deps.pool, p.runId),
    deps.pool.query<{ done: number; total: number }>(
      `SELECT count(*) FILTER (WHERE status = 'diffed')::int AS done,
              count(*) FILTER (WHERE status IN ('manifested', 'diffed'))::int AS total
       FROM run_datasets WHERE run_id = $1`,
      [p.runId],
    ),
  ]);
  const progress = job?.progress as SyncJobProgress | number | undefined;
  return {
    runId: p.runId,
    datasets: typeof progress === 'object' && progress?.datasets ? progress.datasets : {},
    diff: rd.rows[0] ?? { done: 0, total: 0 },
    parse: {
      succeeded: run?.parseSucceeded ?? 0,
      failed: run?.parseFailed ?? 0,
      total: run?.parseTotal ?? 0,
    },
    syncFinished: run?.syncFinishedAt != null || (run !== undefined && run.status !== 'running'),
  };
}
