import type { Worker } from 'bullmq';
import { failRun, getRun, runMigrations, type RunRow } from '@lovsync/shared/db';
import { assertRedisReachable, watchRedis } from '@lovsync/shared/redis';
import type { Config } from '@lovsync/shared/config';
import type { Logger } from '@lovsync/shared/logger';
import { createSyncWorker, requestSync } from '@lovsync/sync';
import { createDiffWorker, reconcile } from '@lovsync/differ';
import { createParseWorker } from '@lovsync/parser';
import { createRuntime } from './runtime.ts';

export interface RunCycleResult {
  run: RunRow;
  datasets: {
    dataset: string;
    status: string;
    fileCount: number | null;
    error: string | null;
    timings: Record<string, number> | null;
  }[];
  phases: { syncMs: number; totalMs: number };
}

/**
 * `lovsync run`: one whole cycle in this process — sync, diff and parse workers in-process —
 * and waits until the run has completed. Leftovers of an interrupted earlier run are reconciled first.
 */
export async function runCycle(
  config: Config,
  opts: { force: boolean; filter?: string | null; log?: Logger },
): Promise<RunCycleResult> {
  await runMigrations(config.DATABASE_URL);
  await assertRedisReachable(config.REDIS_URL, config.REDIS_CONNECT_TIMEOUT_SECONDS);
  const rt = createRuntime(config, { log: opts.log, service: 'run' });
  const workers: Worker[] = [];
  const t0 = performance.now();
  let runId: number | undefined;
  // Redis lost mid-run: workers would wait for it forever; a cron job must end.
  let lost: Error | undefined;
  const stopWatch = watchRedis(
    rt.workerConnection,
    config.REDIS_URL,
    config.REDIS_CONNECT_TIMEOUT_SECONDS,
    (err) => (lost = err),
  );
  const unlessLost = async <T>(p: Promise<T>): Promise<T> => {
    for (;;) {
      if (lost) throw lost;
      const r = await Promise.race([
        p.then((v) => ({ v })),
        new Promise<null>((res) => setTimeout(() => res(null), 250)),
      ]);
      if (r) return r.v;
    }
  };
  try {
    workers.push(await unlessLost(createSyncWorker(rt)), createDiffWorker(rt), createParseWorker(rt));
    await unlessLost(reconcile(rt));
    const job = await unlessLost(
      requestSync(rt.queues, { trigger: 'manual', force: opts.force, filter: opts.filter }),
    );
    runId = await unlessLost(waitForRunId(rt.queues.sync, job.id!));
    const tSync = performance.now();
    let run = await getRun(rt.database.pool, runId);
    let lastReconcile = Date.now();
    while (run && run.status === 'running') {
      if (lost) throw lost;
      await new Promise((r) => setTimeout(r, 100));
      if (Date.now() - lastReconcile > 10_000) {
        await unlessLost(reconcile(rt, { activeSyncRunIds: new Set([runId]) }));
        lastReconcile = Date.now();
      }
      run = await getRun(rt.database.pool, runId);
    }
    if (!run) throw new Error(`run ${runId} disappeared`);
    const ds = await rt.database.pool.query(
      `SELECT dataset, status, file_count AS "fileCount", error, timings FROM run_datasets WHERE run_id = $1 ORDER BY dataset`,
      [runId],
    );
    return {
      run,
      datasets: ds.rows,
      phases: { syncMs: Math.round(tSync - t0), totalMs: Math.round(performance.now() - t0) },
    };
  } catch (err) {
    if (lost && runId !== undefined)
      await failRun(rt.database.pool, runId, lost.message).catch(() => undefined);
    throw err;
  } finally {
    stopWatch();
    if (lost) {
      // Closing workers talks to Redis: with Redis gone, drop the connections instead.
      await Promise.all(workers.map((w) => w.close(true).catch(() => undefined)));
      rt.workerConnection.disconnect();
    } else {
      await Promise.all(workers.map((w) => w.close()));
    }
    await rt.close();
  }
}

/** Waits for the sync job to start its run (the run id is written into its data) or to fail. */
async function waitForRunId(
  queue: ReturnType<typeof createRuntime>['queues']['sync'],
  jobId: string,
): Promise<number> {
  for (;;) {
    const job = await queue.getJob(jobId);
    const runId = (job?.data as { runId?: number } | undefined)?.runId;
    if (typeof runId === 'number') return runId;
    if (job && (await job.isFailed()))
      throw new Error(`sync failed before it started a run: ${job.failedReason}`);
    if (!job) throw new Error(`sync job ${jobId} vanished before it started`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
