import { runSync, type SyncRunResult } from '@lovsync/sync';
import { pendingParseJobs, processDiffJob } from '@lovsync/differ';
import { getRun, type RunRow } from '@lovsync/shared/db';
import { processParseJob } from '@lovsync/parser';
import type { ParseJobData } from '@lovsync/shared/queues';
import type { ServiceContext } from '@lovsync/shared/context';

/** Sync then diff every dataset of the run, in this process (no workers): deterministic steps for tests. */
export async function syncAndDiff(ctx: ServiceContext, force = false): Promise<SyncRunResult> {
  const result = await runSync(ctx, { trigger: 'manual', force, requestedAt: new Date().toISOString() });
  for (const r of result.results) {
    if (r.outcome === 'manifested')
      await processDiffJob(ctx, { runId: result.runId, dataset: r.dataset, vanished: false });
  }
  for (const d of result.vanished)
    await processDiffJob(ctx, { runId: result.runId, dataset: d, vanished: true });
  return result;
}

/** Runs the run's pending parse jobs directly, in the order `sort` gives (default: file_changes id). */
export async function parsePending(
  ctx: ServiceContext,
  runId: number,
  sort?: (a: ParseJobData, b: ParseJobData) => number,
): Promise<void> {
  const jobs = await pendingParseJobs(ctx.database.pool, runId);
  if (sort) jobs.sort(sort);
  for (const j of jobs) await processParseJob(ctx, j);
}

/** Waits until the run is no longer running and returns it. */
export async function waitForRun(
  ctx: Pick<ServiceContext, 'database'>,
  runId: number,
  ms = 120_000,
): Promise<RunRow> {
  const t0 = Date.now();
  for (;;) {
    const run = await getRun(ctx.database.pool, runId);
    if (run && run.status !== 'running') return run;
    if (Date.now() - t0 > ms) throw new Error(`run ${runId} still running after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
