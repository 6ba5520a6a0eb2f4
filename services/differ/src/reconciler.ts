import type { ServiceContext } from '@lovsync/shared/context';
import { failRun, markDatasetDiffFailed, markParseFailed, maybeCompleteRun } from '@lovsync/shared/db';
import { diffJobId, enqueueDiff, parseJobId } from '@lovsync/shared/queues';
import { enqueuePendingParses } from './parse-fanout.ts';

export interface ReconcileReport {
  runsChecked: number;
  diffsRequeued: number;
  parsesRequeued: number;
  parsesFailed: number;
  runsInterrupted: number;
  runsCompleted: number;
}

/**
 * Postgres is the source of truth; Redis only carries work. For every running run this re-derives
 * the jobs it still needs (a Redis restart, a diff that died before its enqueue), records parse jobs
 * that failed for good without reaching their handler (stalled too often), and fails runs whose
 * sync phase was interrupted (the next sync redoes their datasets: lastModified did not advance).
 */
export async function reconcile(
  ctx: ServiceContext,
  opts: { activeSyncRunIds?: Set<number> } = {},
): Promise<ReconcileReport> {
  const { pool } = ctx.database;
  const log = ctx.log.child({ service: 'reconciler' });
  const report: ReconcileReport = {
    runsChecked: 0,
    diffsRequeued: 0,
    parsesRequeued: 0,
    parsesFailed: 0,
    runsInterrupted: 0,
    runsCompleted: 0,
  };
  const runs = await pool.query<{ id: number; sync_finished_at: Date | null; stale: boolean }>(
    `SELECT id, sync_finished_at,
            (sync_heartbeat_at IS NULL OR sync_heartbeat_at < now() - make_interval(secs => $1)) AS stale
     FROM sync_runs WHERE status = 'running' ORDER BY id`,
    [ctx.config.SYNC_STALE_SECONDS],
  );
  // Only a job that carries the run's id continues that run (a retried job in its backoff, or the
  // active one). A job without a run id (the cron scheduler's next delayed job, a queued request)
  // starts a new run: it never keeps an old one alive. A sync that has just started and not yet
  // written its run id into its job is covered by the run's fresh heartbeat (set at creation).
  const syncJobs = await ctx.queues.sync.getJobs(['active', 'waiting', 'delayed', 'prioritized']);
  const syncing = new Set<number>(opts.activeSyncRunIds ?? []);
  for (const j of syncJobs) {
    const id = j?.data.runId;
    if (id !== undefined) syncing.add(id);
  }

  for (const run of runs.rows) {
    report.runsChecked++;
    if (run.sync_finished_at === null) {
      // A live sync writes its heartbeat every few seconds, with or without Redis: a run is
      // orphaned only when no job holds it AND its heartbeat is stale.
      if (!syncing.has(run.id) && run.stale) {
        await failRun(
          pool,
          run.id,
          `sync interrupted (its process died or its job was lost; no heartbeat for ${ctx.config.SYNC_STALE_SECONDS} s); the next sync redoes it`,
        );
        report.runsInterrupted++;
      }
      continue;
    }
    const manifested = await pool.query<{ dataset: string; vanished: boolean }>(
      `SELECT dataset, vanished FROM run_datasets WHERE run_id = $1 AND status = 'manifested'`,
      [run.id],
    );
    for (const rd of manifested.rows) {
      const job = await ctx.queues.diff.getJob(diffJobId(run.id, rd.dataset));
      if (!job) {
        await enqueueDiff(ctx.queues, { runId: run.id, dataset: rd.dataset, vanished: rd.vanished });
        report.diffsRequeued++;
      } else if (await job.isFailed()) {
        await markDatasetDiffFailed(pool, {
          runId: run.id,
          dataset: rd.dataset,
          error: `diff failed: ${job.failedReason}`,
        });
      }
    }
    const pending = await pool.query<{ id: number; dataset: string; path: string }>(
      `SELECT id, dataset, path FROM file_changes WHERE run_id = $1 AND parse_status = 'pending'`,
      [run.id],
    );
    let missing = 0;
    const states = await Promise.all(
      pending.rows.map(async (r) => ({
        r,
        job: await ctx.queues.parse.getJob(parseJobId(run.id, r.dataset, r.path)),
      })),
    );
    for (const { r, job } of states) {
      if (!job) {
        missing++;
        continue;
      }
      // Parse effects commit before a job completes, so a completed job with a pending row is stale.
      if (await job.isCompleted()) {
        await job.remove();
        missing++;
        continue;
      }
      if (job.finishedOn && job.failedReason && (await job.isFailed())) {
        if (await markParseFailed(pool, { fileChangeId: r.id, error: job.failedReason }))
          report.parsesFailed++;
      }
    }
    if (missing > 0) report.parsesRequeued += await enqueuePendingParses(pool, ctx.queues, run.id);
    if (await maybeCompleteRun(pool, run.id, ctx.config.PARSE_FAILURE_THRESHOLD)) report.runsCompleted++;
  }
  if (
    report.diffsRequeued ||
    report.parsesRequeued ||
    report.parsesFailed ||
    report.runsInterrupted ||
    report.runsCompleted
  ) {
    log.info(report, 'reconciled runs with the queues');
  }
  return report;
}

export function startReconciler(ctx: ServiceContext, everyMs = 30_000): { stop(): void } {
  const log = ctx.log.child({ service: 'reconciler' });
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    reconcile(ctx)
      .catch((err: Error) => log.warn({ err: err.message }, 'reconcile failed'))
      .finally(() => (busy = false));
  }, everyMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
