/**
 * bench/reconcile (issue 15): one reconciler pass over a healthy backlog the size of Lovdata's
 * whole public corpus (41,878 pending file_changes rows, each with its waiting parse job), then with
 * 1% of the jobs deleted; against the pass before issue 15 (one getJob per pending row), written out
 * here. Prints wall time and the Redis commands of each pass (INFO commandstats delta, so run it
 * on an otherwise idle Redis).
 *
 *   pnpm bench:reconcile      (ROWS=41878, REPS=3)
 */
import { processDiffJob, reconcile } from '@lovsync/differ';
import { createRun, finishSyncPhase } from '@lovsync/shared/db';
import { parseJobId } from '@lovsync/shared/queues';
import type { Runtime } from '@lovsync/shared/runtime';
import { createTestContext } from '@lovsync/testkit/support/context';
import { createTestEnv, REDIS_URL } from '@lovsync/testkit/support/harness';
import { Redis } from 'ioredis';
import { fmt, log, printTable } from './lib/stats.ts';

const ROWS = Number(process.env.ROWS ?? 41_878);
const REPS = Number(process.env.REPS ?? 3);

/** Total calls of every command so far (Lua-internal calls included), from INFO commandstats. */
async function redisCalls(redis: Redis): Promise<number> {
  const info = await redis.info('commandstats');
  let n = 0;
  for (const m of info.matchAll(/^cmdstat_[^:]+:calls=(\d+)/gm)) n += Number(m[1]);
  return n;
}

/** The pass before issue 15, for the comparison: a getJob per pending row. */
async function getJobPerRow(ctx: Runtime, runId: number): Promise<number> {
  const pending = await ctx.database.pool.query<{ dataset: string; path: string }>(
    `SELECT dataset, path FROM file_changes WHERE run_id = $1 AND parse_status = 'pending'`,
    [runId],
  );
  const jobs = await Promise.all(
    pending.rows.map((r) => ctx.queues.parse.getJob(parseJobId(runId, r.dataset, r.path))),
  );
  let missing = 0;
  for (const j of jobs) if (!j || (await j.isCompleted())) missing++;
  return missing;
}

async function main(): Promise<void> {
  const env = await createTestEnv('bench_reconcile');
  const ctx = createTestContext(env);
  const redis = new Redis(REDIS_URL);
  try {
    const pool = env.database.pool;
    const runId = await createRun(pool, { trigger: 'manual', force: false, datasetFilter: null });
    await pool.query(
      `INSERT INTO run_datasets (run_id, dataset, status, vanished, last_modified) VALUES ($1, 'd', 'manifested', false, now())`,
      [runId],
    );
    await pool.query(
      `INSERT INTO manifest_entries (run_id, dataset, path, hash, size)
       SELECT $1, 'd', 'lti/' || i || '.xml', lpad(to_hex(i), 32, '0'), 1000 FROM generate_series(1, $2) AS i`,
      [runId, ROWS],
    );
    await finishSyncPhase(pool, runId, { datasetsChecked: 1 });
    await processDiffJob(ctx, { runId, dataset: 'd', vanished: false });
    log(`${ROWS} pending rows, ${await ctx.queues.parse.getJobCountByTypes('waiting')} waiting parse jobs`);

    const table: string[][] = [];
    const time = async (label: string, fn: () => Promise<number>) => {
      const ms: number[] = [];
      const calls: number[] = [];
      let result = 0;
      for (let i = 0; i < REPS; i++) {
        const c0 = await redisCalls(redis);
        const t0 = performance.now();
        result = await fn();
        ms.push(performance.now() - t0);
        calls.push((await redisCalls(redis)) - c0 - 1); // the INFO call itself
      }
      table.push([label, fmt(ms, 0), fmt(calls, 0), String(result)]);
    };
    await time('healthy: getJob per row (before)', () => getJobPerRow(ctx, runId));
    await time('healthy: reconcile (now)', async () => (await reconcile(ctx)).parsesRequeued);
    const gone = Math.round(ROWS / 100);
    await time(`${gone} jobs deleted: reconcile (now)`, async () => {
      const ids = Array.from({ length: gone }, (_, i) => parseJobId(runId, 'd', `lti/${i * 100 + 1}.xml`));
      for (const id of ids) await ctx.queues.parse.remove(id);
      return (await reconcile(ctx)).parsesRequeued;
    });
    printTable(['pass', 'wall ms', 'Redis calls (incl. Lua)', 'missing / requeued'], table);
    log('the deleted-jobs row includes the removal of the jobs (one script call each)');
  } finally {
    redis.disconnect();
    await ctx.close();
    await env.teardown();
  }
}

await main();
