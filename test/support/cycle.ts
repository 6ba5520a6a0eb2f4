import { runSync, type SyncRunResult } from '@lovsync/sync';
import { processDiffJob } from '@lovsync/differ';
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
  const res = await ctx.database.pool.query<{
    id: number;
    dataset: string;
    path: string;
    change: ParseJobData['change'];
    old_hash: string | null;
    new_hash: string | null;
  }>(
    `SELECT id, dataset, path, change, old_hash, new_hash FROM file_changes WHERE run_id = $1 AND parse_status = 'pending' ORDER BY id`,
    [runId],
  );
  const jobs: ParseJobData[] = res.rows.map((r) => ({
    runId,
    fileChangeId: r.id,
    dataset: r.dataset,
    path: r.path,
    change: r.change,
    newHash: r.new_hash,
    oldHash: r.old_hash,
  }));
  if (sort) jobs.sort(sort);
  for (const j of jobs) await processParseJob(ctx, j);
}
