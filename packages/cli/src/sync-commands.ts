import { config } from '@lovsync/shared/config';
import { getRun, runMigrations } from '@lovsync/shared/db';
import { requestSync, importLovligState } from '@lovsync/sync';
import { createRuntime } from './runtime.ts';

export async function syncCommand(o: { force: boolean; wait: boolean }): Promise<void> {
  const rt = createRuntime(config(), { service: 'cli' });
  try {
    const job = await requestSync(rt.queues, { trigger: 'manual', force: o.force });
    process.stdout.write(`sync requested (job ${job.id})\n`);
    if (!o.wait) return;
    let runId: number | undefined;
    for (;;) {
      const j = await rt.queues.sync.getJob(job.id!);
      runId = (j?.data as { runId?: number } | undefined)?.runId;
      if (runId !== undefined) {
        const run = await getRun(rt.database.pool, runId);
        if (run && run.status !== 'running') {
          process.stdout.write(`run ${run.id} ${run.status}\n`);
          process.exitCode = run.status === 'failed' ? 1 : 0;
          return;
        }
      } else if (!j || (await j.isFailed())) {
        throw new Error(`sync job ${job.id} failed: ${j?.failedReason ?? 'gone'}`);
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
  const rt = createRuntime(cfg, { service: 'cli' });
  try {
    const r = await importLovligState(rt, file);
    process.stdout.write(`imported ${r.files} file(s) of ${r.datasets} dataset(s) from ${file}\n`);
  } finally {
    await rt.close();
  }
}
