import type { ServiceContext } from '@lovsync/shared/context';
import { failRun, markDatasetDiffFailed, markParseFailed, maybeCompleteRun } from '@lovsync/shared/db';
import type { Queue } from 'bullmq';
import { diffJobId, enqueueDiff, enqueueParses, parseJobId, type ParseJobData } from '@lovsync/shared/queues';
import { pendingParseJobs } from './parse-fanout.ts';

export interface ReconcileReport {
  runsChecked: number;
  diffsRequeued: number;
  parsesRequeued: number;
  parsesFailed: number;
  runsInterrupted: number;
  runsCompleted: number;
}

/** The states in which a parse job is still owed work: it will run (again) without our help. */
const LIVE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children'] as const;
/** Job ids read per Redis call when listing the live jobs (one list/zset range each). */
const RANGE_PAGE = 10_000;
/** Candidates whose job state is read concurrently (bounds memory and commands in flight). */
const CHECK_BATCH = 500;
/** Pending file_changes rows read per Postgres query (bounds memory whatever the run's size). */
const PENDING_PAGE = 5_000;

/** The ids of every parse job BullMQ still holds in a live state, read in pages of RANGE_PAGE. */
async function liveParseJobIds(queue: Queue<ParseJobData>): Promise<Set<string>> {
  const ids = new Set<string>();
  for (const state of LIVE_STATES) {
    for (let start = 0; ; start += RANGE_PAGE) {
      const page = await queue.getRanges([state], start, start + RANGE_PAGE - 1);
      for (const id of page) ids.add(id);
      if (page.length < RANGE_PAGE) break;
    }
  }
  return ids;
}

/**
 * The pending rows of a run whose job was not seen live: each one's job state is read now (it may
 * have been added or moved between the range reads; then it is live and left alone). A job that
 * failed for good without reaching its handler fails its row; a job that is gone, or completed
 * while its row is still pending (stale: parse effects commit before a job completes), is added
 * again for the rows that Postgres, read after the job states, still says are pending.
 */
async function settleCandidates(
  ctx: ServiceContext,
  runId: number,
  candidates: { id: number; dataset: string; path: string }[],
): Promise<{ requeued: number; failed: number }> {
  const { pool } = ctx.database;
  const queue = ctx.queues.parse;
  let requeued = 0;
  let failed = 0;
  for (let i = 0; i < candidates.length; i += CHECK_BATCH) {
    const batch = candidates.slice(i, i + CHECK_BATCH);
    const states = await Promise.all(
      batch.map(async (r) => {
        const jobId = parseJobId(runId, r.dataset, r.path);
        return { r, jobId, state: await queue.getJobState(jobId) };
      }),
    );
    const owed: number[] = [];
    const stale: string[] = [];
    for (const { r, jobId, state } of states) {
      if (state === 'unknown') owed.push(r.id);
      else if (state === 'completed') {
        owed.push(r.id);
        stale.push(jobId);
      } else if (state === 'failed') {
        const job = await queue.getJob(jobId);
        if (job?.finishedOn && job.failedReason) {
          if (await markParseFailed(pool, { fileChangeId: r.id, error: job.failedReason })) failed++;
        }
      }
    }
    if (owed.length === 0) continue;
    const jobs = await pendingParseJobs(pool, runId, undefined, owed);
    const still = new Set(jobs.map((j) => parseJobId(j.runId, j.dataset, j.path)));
    // A completed job keeps its id: remove it first, or the add below would be a no-op.
    for (const jobId of stale) if (still.has(jobId)) await queue.remove(jobId);
    await enqueueParses(ctx.queues, jobs);
    requeued += jobs.length;
  }
  return { requeued, failed };
}

/**
 * Postgres is the source of truth; Redis only carries work. For every running run this re-derives
 * the jobs it still needs (a Redis restart, a diff that died before its enqueue), records parse jobs
 * that failed for good without reaching their handler (stalled too often), and fails runs whose
 * sync phase was interrupted (the next sync redoes their datasets: lastModified did not advance).
 *
 * What one pass costs, with P pending file_changes rows, L live parse jobs and M pending rows whose
 * job is not live (gone, completed while the row is pending, failed, or moved during the read):
 * Postgres: per running run one read of its runs/run_datasets rows and ceil(P / 5,000) index reads of
 * its pending rows' (id, dataset, path), a page by id at a time; Redis: a sync-queue listing, one getJob per manifested dataset, and,
 * when some run has pending rows, at most ceil(L / 10,000) + 5 range reads (one Lua call each, listing the
 * live job ids of the parse queue: no per-job command); then O(M) commands: one getJobState per
 * candidate, a getJob per failed one, a remove per stale completed one, and one addBulk per 1,000
 * jobs requeued. A healthy backlog (M = 0) costs no per-row Redis command at all; only the rows
 * whose job is really missing are requeued, and parsesRequeued counts exactly those.
 */
export async function reconcile(
  ctx: ServiceContext,
  opts: { activeSyncRunIds?: Set<number>; pendingPage?: number } = {},
): Promise<ReconcileReport> {
  const pageSize = opts.pendingPage ?? PENDING_PAGE;
  if (!Number.isInteger(pageSize) || pageSize < 1)
    throw new Error(`reconcile: pendingPage must be a positive integer, got ${pageSize}`);
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

  let live: Set<string> | undefined; // read once per pass, when some run has pending rows
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
    // The run's pending rows a page at a time (keyset on id): memory bounded by the page, not the run.
    for (let afterId = 0; ;) {
      const pending = await pool.query<{ id: number; dataset: string; path: string }>(
        `SELECT id, dataset, path FROM file_changes
         WHERE run_id = $1 AND parse_status = 'pending' AND id > $2 ORDER BY id LIMIT $3`,
        [run.id, afterId, pageSize],
      );
      if (pending.rows.length === 0) break;
      live ??= await liveParseJobIds(ctx.queues.parse);
      const candidates = pending.rows.filter((r) => !live!.has(parseJobId(run.id, r.dataset, r.path)));
      const owed = await settleCandidates(ctx, run.id, candidates);
      report.parsesFailed += owed.failed;
      report.parsesRequeued += owed.requeued;
      if (pending.rows.length < pageSize) break;
      afterId = pending.rows[pending.rows.length - 1]!.id;
    }
    if (await maybeCompleteRun(pool, run.id, ctx.config.PARSE_FAILURE_THRESHOLD)) report.runsCompleted++;
  }
  const acted =
    report.diffsRequeued ||
    report.parsesRequeued ||
    report.parsesFailed ||
    report.runsInterrupted ||
    report.runsCompleted;
  // Every count is of things really done (a requeue is a job that was missing): a quiet pass only at debug.
  if (acted) log.info(report, 'reconciled runs with the queues');
  else log.debug(report, 'reconciled runs: nothing owed');
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
