import { config } from '@lovsync/shared/config';
import { createDatabase, getRun, runMigrations } from '@lovsync/shared/db';
import { assertRedisReachable } from '@lovsync/shared/redis';
import { requestSync, importLovligState } from '@lovsync/sync';
import { createRuntime } from '@lovsync/shared/runtime';

export async function syncCommand(o: { force: boolean; wait: boolean }): Promise<void> {
  const cfg = config();
  await assertRedisReachable(cfg.REDIS_URL, cfg.REDIS_CONNECT_TIMEOUT_SECONDS);
  const rt = createRuntime(cfg, { service: 'cli' });
  try {
    const job = await requestSync(
      rt.queues,
      { trigger: 'manual', force: o.force },
      { forcedMinIntervalSeconds: cfg.FORCED_SYNC_MIN_INTERVAL_SECONDS },
    );
    process.stdout.write(`sync requested (job ${job.id})\n`);
    const noWorker =
      `nothing is consuming the sync queue: no sync worker is connected to REDIS_URL with QUEUE_PREFIX=${cfg.QUEUE_PREFIX} ` +
      '(start `lovsync serve --role sync`, or run the whole cycle in this process with `lovsync run`)';
    if (!o.wait) {
      if ((await rt.queues.sync.getWorkersCount()) === 0)
        process.stderr.write(`lovsync: warning: ${noWorker}\n`);
      return;
    }
    let runId: number | undefined;
    let lastWorkerCheck = 0;
    for (;;) {
      if (Date.now() - lastWorkerCheck > 5_000) {
        lastWorkerCheck = Date.now();
        // The job would wait forever with nobody to take it: say so and stop.
        if ((await rt.queues.sync.getWorkersCount()) === 0) throw new Error(noWorker);
      }
      // Once the job has named its run, Postgres decides: the job itself may vanish (Redis restarted)
      // while the run goes on and succeeds.
      const j = runId === undefined ? await rt.queues.sync.getJob(job.id!) : undefined;
      runId ??= j?.data.runId;
      if (runId !== undefined) {
        const run = await getRun(rt.database.pool, runId);
        if (run && run.status !== 'running') {
          process.stdout.write(`run ${run.id} ${run.status}\n`);
          process.exitCode = run.status === 'failed' ? 1 : 0;
          return;
        }
      } else if (!j) {
        throw new Error(
          `sync job ${job.id} vanished from Redis (restarted or flushed?) before it named its run; ` +
            '`lovsync runs` shows whether one started; request another sync if not',
        );
      } else if (await j.isFailed()) {
        throw new Error(`sync job ${job.id} failed: ${j.failedReason}`);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    await rt.close();
  }
}

export async function importLovligCommand(file: string): Promise<void> {
  const cfg = config();
  await runMigrations(cfg.DATABASE_URL);
  // Postgres only: an import does not need Redis.
  const database = createDatabase(cfg.DATABASE_URL, { max: 2, applicationName: 'lovsync-cli' });
  try {
    const r = await importLovligState({ database }, file);
    process.stdout.write(`imported ${r.files} file(s) of ${r.datasets} dataset(s) from ${file}\n`);
  } finally {
    await database.close();
  }
}
