import type { Worker } from 'bullmq';
import { failRun, getRun, runMigrations, type RunRow } from '@lovsync/shared/db';
import { assertRedisReachable, watchRedis } from '@lovsync/shared/redis';
import type { Config } from '@lovsync/shared/config';
import type { Logger } from '@lovsync/shared/logger';
import { createSyncWorker, requestSync } from '@lovsync/sync';
import { createDiffWorker, reconcile } from '@lovsync/differ';
import { createParseWorker } from '@lovsync/parser';
import { readRunProgress, type RunProgress } from './run-progress.ts';
import { createRuntime } from '@lovsync/shared/runtime';

/** `lovsync run` was stopped by SIGINT/SIGTERM: its run is failed with the reason, nothing is left held. */
export class RunInterruptedError extends Error {
  constructor(
    readonly signal: NodeJS.Signals,
    readonly runId: number | undefined,
  ) {
    super(
      `interrupted by ${signal}${runId !== undefined ? `: run ${runId} marked failed; the next run redoes its datasets` : ' before a run started'}`,
    );
    this.name = 'RunInterruptedError';
  }
}

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
  opts: {
    force: boolean;
    filter?: string | null;
    log?: Logger;
    /** Called about every 250 ms while the run is in progress, and once when it has ended. */
    onProgress?: (p: RunProgress) => void;
    /** Prints a line for the operator (default: stderr); the progress display prints it above itself. */
    say?: (line: string) => void;
  },
): Promise<RunCycleResult> {
  await runMigrations(config.DATABASE_URL);
  await assertRedisReachable(config.REDIS_URL, config.REDIS_CONNECT_TIMEOUT_SECONDS);
  const rt = createRuntime(config, { log: opts.log, service: 'run' });
  const workers: Worker[] = [];
  const say = opts.say ?? ((line: string) => process.stderr.write(line));
  const t0 = performance.now();
  let runId: number | undefined;
  let syncJobId: string | undefined;
  // Redis lost mid-run: workers would wait for it forever; a cron job must end.
  let lost: Error | undefined;
  const stopWatch = watchRedis(
    rt.workerConnection,
    config.REDIS_URL,
    config.REDIS_CONNECT_TIMEOUT_SECONDS,
    (err) => (lost = err),
  );
  // SIGINT / SIGTERM: stop waiting, fail the run (releasing its manifests), hand the sync job back;
  // a second signal exits at once.
  let interrupted: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) process.exit(130);
    interrupted = signal;
    say(
      `lovsync: ${signal} received: stopping${runId !== undefined ? ` run ${runId}` : ''} (again to exit at once)\n`,
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const stopReason = (): Error | undefined =>
    lost ?? (interrupted ? new RunInterruptedError(interrupted, runId) : undefined);
  const unlessLost = async <T>(p: Promise<T>): Promise<T> => {
    for (;;) {
      const stop = stopReason();
      if (stop) throw stop;
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
    await sayWhatHoldsTheSyncSlot(rt, say);
    const job = await unlessLost(
      requestSync(rt.queues, { trigger: 'manual', force: opts.force, filter: opts.filter }),
    );
    syncJobId = job.id!;
    runId = await unlessLost(waitForRunId(rt.queues.sync, job.id!));
    const tSync = performance.now();
    let run = await getRun(rt.database.pool, runId);
    let lastReconcile = Date.now();
    let lastProgress = 0;
    const progress = async () => {
      if (!opts.onProgress) return;
      lastProgress = Date.now();
      const p = await readRunProgress(
        { pool: rt.database.pool, syncQueue: rt.queues.sync },
        { syncJobId: job.id!, runId: runId! },
      ).catch(() => undefined);
      if (p) opts.onProgress(p);
    };
    while (run && run.status === 'running') {
      const stop = stopReason();
      if (stop) throw stop;
      await new Promise((r) => setTimeout(r, 100));
      if (Date.now() - lastProgress >= 250) await progress();
      if (Date.now() - lastReconcile > 10_000) {
        await unlessLost(reconcile(rt, { activeSyncRunIds: new Set([runId]) }));
        lastReconcile = Date.now();
      }
      run = await getRun(rt.database.pool, runId);
    }
    if (!run) throw new Error(`run ${runId} disappeared`);
    await progress();
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
    const stop = stopReason();
    if (stop && runId === undefined && syncJobId !== undefined) {
      // Stopped while waiting for the sync job to name its run: it may have started it already.
      const started = (await rt.queues.sync.getJob(syncJobId).catch(() => undefined))?.data;
      if (started?.runId !== undefined) runId = started.runId;
    }
    if (stop && runId !== undefined)
      await failRun(rt.database.pool, runId, stop.message).catch(() => undefined);
    throw stop instanceof RunInterruptedError ? new RunInterruptedError(stop.signal, runId) : err;
  } finally {
    stopWatch();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (interrupted && !lost) {
      // Active jobs get SHUTDOWN_TIMEOUT_SECONDS to finish; then the workers are closed by force and
      // the sync job, still locked by this process, is removed so that the next run starts at once
      // instead of waiting for the lock to expire (its run is already failed).
      // (Worker.close() caches its first call, so the bound is kept here, not by close().)
      await Promise.all(workers.map((w) => w.pause(true).catch(() => undefined)));
      const deadline = Date.now() + config.SHUTDOWN_TIMEOUT_SECONDS * 1000;
      while (Date.now() < deadline && (await activeJobs(rt).catch(() => 0)) > 0)
        await new Promise((r) => setTimeout(r, 100));
      await Promise.all(workers.map((w) => w.close(true).catch(() => undefined)));
      if (syncJobId !== undefined) await releaseSyncJob(rt, syncJobId).catch(() => undefined);
    } else if (lost) {
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
  const t0 = Date.now();
  for (;;) {
    const job = await queue.getJob(jobId);
    const runId = job?.data.runId;
    if (runId !== undefined) return runId;
    if (job && (await job.isFailed()))
      throw new Error(`sync failed before it started a run: ${job.failedReason}`);
    if (!job) throw new Error(`sync job ${jobId} vanished before it started`);
    // Every 20 ms while the sync is just starting (the usual case: ~100 ms), then every 100 ms
    // (an earlier sync may hold the slot for minutes).
    await new Promise((r) => setTimeout(r, Date.now() - t0 < 2_000 ? 20 : 100));
  }
}

async function activeJobs(rt: ReturnType<typeof createRuntime>): Promise<number> {
  const { sync, diff, parse } = rt.queues;
  const counts = await Promise.all([sync, diff, parse].map((q) => q.getActiveCount()));
  return counts.reduce((a, b) => a + b, 0);
}

/** Removes a sync job this process still holds (its lock first: the job cannot be removed while locked). */
async function releaseSyncJob(rt: ReturnType<typeof createRuntime>, jobId: string): Promise<void> {
  const q = rt.queues.sync;
  const job = await q.getJob(jobId);
  if (!job) return;
  const state = await job.getState();
  if (state === 'completed' || state === 'failed') return;
  await rt.workerConnection.del(q.toKey(`${jobId}:lock`));
  await q.remove(jobId);
}

/** A sync still active from another (or a killed) process holds the one sync slot: say so at once. */
async function sayWhatHoldsTheSyncSlot(
  rt: ReturnType<typeof createRuntime>,
  say: (line: string) => void,
): Promise<void> {
  const active = await rt.queues.sync.getJobs(['active']);
  for (const j of active) {
    const id = j?.data.runId;
    say(
      `lovsync: an earlier sync${id !== undefined ? ` (run ${id})` : ''} is still active in another process or was cut off; this run starts when it finishes or its lock expires\n`,
    );
  }
}
