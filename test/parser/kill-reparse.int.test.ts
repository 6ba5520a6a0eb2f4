/**
 * SIGKILL a parser process in the middle of a `reparse --all` (the kill.int.test.ts pattern), start
 * it again: the final database equals that of an uninterrupted reparse.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startReparse } from '@lovsync/differ';
import { buildTarBz2, syntheticCorpus } from '@lovsync/testkit/archive/archive-builder';
import { startEmulator, type Emulator } from '@lovsync/testkit/emulator/server';
import { createTestEnv, type TestEnv } from '@lovsync/testkit/support/harness';
import { contentDigest, createTestContext, rows } from '@lovsync/testkit/support/context';
import { parsePending, syncAndDiff, waitForRun } from '@lovsync/testkit/support/cycle';
import { startWorkerProcess, stopProcess } from '@lovsync/testkit/support/processes';

let emu: Emulator;
let archives: string;
const envs: TestEnv[] = [];

/** Sync and parse in this process, then a reparse parsed by child processes; `kill` SIGKILLs one mid-way. */
async function reparseRun(label: string, kill: boolean) {
  const env = await createTestEnv(label);
  envs.push(env);
  const ctx = createTestContext(env, { LOVDATA_API_URL: emu.url });
  const penv = env.env({ PARSER_CONCURRENCY: '2', JOB_LOCK_SECONDS: '3' });
  try {
    const first = await syncAndDiff(ctx);
    await parsePending(ctx, first.runId);
    // What an older extractor left behind, so that the reparse has changes to record.
    await env.database.pool.query(
      `UPDATE sections SET text = replace(text, '. ', '.'), text_hash = md5(text) WHERE text LIKE '%. %' AND ord % 7 = 0`,
    );
    const { runId, files: total } = await startReparse(ctx, { all: true });
    const done = async () =>
      (
        await rows<{ n: number }>(
          env,
          `SELECT count(*)::int AS n FROM file_changes WHERE run_id = $1 AND parse_status <> 'pending'`,
          [runId],
        )
      )[0]!.n;
    let p = await startWorkerProcess('parser', penv);
    if (kill) {
      while ((await done()) < total / 3) await new Promise((r) => setTimeout(r, 20));
      await stopProcess(p, 'SIGKILL');
      expect(await done()).toBeLessThan(total);
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
  archives = join(
    (await createTestEnv('kill_reparse_archives').then((e) => (envs.push(e), e))).tmp,
    'archives',
  );
  await mkdir(archives, { recursive: true });
  await buildTarBz2(syntheticCorpus({ copies: 5, seed: 7 }), join(archives, 'lovtidend-avd1-2025.tar.bz2'));
  emu = await startEmulator({ dir: archives });
});
afterAll(async () => {
  await emu?.close();
  for (const e of envs) await e.teardown();
});

it('a parser killed with SIGKILL during a reparse converges to the database of an uninterrupted reparse', async () => {
  const clean = await reparseRun('kill_reparse_clean', false);
  const killed = await reparseRun('kill_reparse_killed', true);
  expect(clean.total).toBeGreaterThan(100);
  expect(clean.run).toMatchObject({ trigger: 'reparse', status: 'succeeded', parseSucceeded: clean.total });
  expect(killed.run).toMatchObject({ trigger: 'reparse', status: 'succeeded', parseSucceeded: clean.total });
  expect(
    await rows(clean.env, 'SELECT DISTINCT change, kind FROM document_changes WHERE run_id = $1', [
      clean.run.id,
    ]),
  ).toEqual([{ change: 'modified', kind: 'reparse' }]);
  expect(await contentDigest(killed.env)).toEqual(await contentDigest(clean.env));
}, 180_000);
