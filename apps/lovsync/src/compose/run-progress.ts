import type { Queue } from 'bullmq';
import type pg from 'pg';
import { getRun } from '@lovsync/shared/db';
import type { DatasetProgress, SyncJobProgress } from '@lovsync/sync';

/** What `lovsync run` knows about its run at one moment (read from the sync job and Postgres). */
export interface RunProgress {
  runId: number | null;
  datasets: Record<string, DatasetProgress>;
  /** Datasets whose diff has committed / datasets that will be diffed in this run (so far). */
  diff: { done: number; total: number };
  /** The run's file_changes rows: parsed (succeeded or failed) of total. */
  parse: { succeeded: number; failed: number; total: number };
  /** The sync phase is over: every dataset that will be diffed is known. */
  syncFinished: boolean;
}

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
