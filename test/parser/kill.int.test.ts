/**
 * SIGKILL a parser process in the middle of a run of many files, start it again: the final database
 * equals that of an uninterrupted run (digest of all rows users query, timestamps and ids excluded).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildTarBz2, syntheticCorpus } from '@lovsync/testkit/archive/archive-builder';
import { startEmulator, type Emulator } from '@lovsync/testkit/emulator/server';
import { createTestEnv, type TestEnv } from '@lovsync/testkit/support/harness';
import { contentDigest, createTestContext, rows } from '@lovsync/testkit/support/context';
import { syncAndDiff, waitForRun } from '@lovsync/testkit/support/cycle';
import { startWorkerProcess, stopProcess } from '@lovsync/testkit/support/processes';

let emu: Emulator;
let archives: string;
const envs: TestEnv[] = [];

/** Sync + diff in this process, parsing in child processes; `kill` SIGKILLs one mid-run and restarts it. */
async function fullRun(label: string, kill: boolean) {
  const env = await createTestEnv(label);
  envs.push(env);
  const ctx = createTestContext(env, { LOVDATA_API_URL: emu.url });
  const penv = env.env({ PARSER_CONCURRENCY: '2', JOB_LOCK_SECONDS: '3' });
  try {
    const { runId } = await syncAndDiff(ctx);
    const total = (
      await rows<{ n: number }>(env, 'SELECT count(*)::int AS n FROM file_changes WHERE run_id = $1', [runId])
    )[0]!.n;
    let p = await startWorkerProcess('parser', penv);
    if (kill) {
      for (;;) {
        const done = (
          await rows<{ n: number }>(
            env,
            `SELECT count(*)::int AS n FROM file_changes WHERE parse_status <> 'pending'`,
          )
        )[0]!.n;
        if (done >= total / 3) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      await stopProcess(p, 'SIGKILL');
      const afterKill = (
        await rows<{ n: number }>(
          env,
          `SELECT count(*)::int AS n FROM file_changes WHERE parse_status <> 'pending'`,
        )
      )[0]!.n;
      expect(afterKill).toBeLessThan(total);
      p = await startWorkerProcess('parser', penv);
    }
    const run = await waitForRun(ctx, runId);
    await stopProcess(p);
    return { env, run, total };
  } finally {
    await ctx.close();
  }
}

beforeAll(async () => {
  archives = join((await createTestEnv('kill_archives').then((e) => (envs.push(e), e))).tmp, 'archives');
  await mkdir(archives, { recursive: true });
  await buildTarBz2(syntheticCorpus({ copies: 12, seed: 7 }), join(archives, 'lovtidend-avd1-2025.tar.bz2'));
  emu = await startEmulator({ dir: archives });
});
afterAll(async () => {
  await emu?.close();
  for (const e of envs) await e.teardown();
});

it('a parser killed with SIGKILL mid-run converges to the database of an uninterrupted run', async () => {
  const clean = await fullRun('kill_clean', false);
  const killed = await fullRun('kill_killed', true);
  expect(clean.total).toBeGreaterThan(200);
  expect(clean.run.status).toBe('succeeded');
  expect(killed.run).toMatchObject({
    status: 'succeeded',
    parseTotal: clean.total,
    parseSucceeded: clean.total,
  });
  expect(await contentDigest(killed.env)).toEqual(await contentDigest(clean.env));
}, 180_000);
