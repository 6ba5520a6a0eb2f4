/**
 * SIGKILL a parser process in the middle of a run of many files, start it again: the final database
 * equals that of an uninterrupted run (digest of all rows users query, timestamps and ids excluded).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildTarBz2, syntheticCorpus } from '../archive/archive-builder.ts';
import { startEmulator, type Emulator } from '../emulator/server.ts';
import { createTestEnv, type TestEnv } from '../support/harness.ts';
import { contentDigest, createTestContext, rows } from '../support/context.ts';
import { syncAndDiff, waitForRun } from '../support/cycle.ts';
import { startReparse } from '@lovsync/differ';
import type { Runtime } from '../../packages/cli/src/runtime.ts';
import { startWorkerProcess, stopProcess } from '../support/processes.ts';

let emu: Emulator;
let archives: string;
const envs: TestEnv[] = [];

/**
 * Parses the run's jobs in a child parser process; `kill` SIGKILLs it once a third is done and
 * starts another. Returns the completed run and its number of jobs.
 */
async function parseRun(env: TestEnv, ctx: Runtime, runId: number, kill: boolean) {
  const penv = env.env({ PARSER_CONCURRENCY: '2', JOB_LOCK_SECONDS: '3' });
  const done = async () =>
    (
      await rows<{ n: number }>(
        env,
        `SELECT count(*)::int AS n FROM file_changes WHERE run_id = $1 AND parse_status <> 'pending'`,
        [runId],
      )
    )[0]!.n;
  const total = (
    await rows<{ n: number }>(env, 'SELECT count(*)::int AS n FROM file_changes WHERE run_id = $1', [runId])
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
  return { run, total };
}

/** Sync + diff in this process, parsing in child processes; `kill` SIGKILLs one mid-run and restarts it. */
async function fullRun(label: string, kill: boolean) {
  const env = await createTestEnv(label);
  envs.push(env);
  const ctx = createTestContext(env, { LOVDATA_API_URL: emu.url });
  try {
    const { runId } = await syncAndDiff(ctx);
    return { env, ...(await parseRun(env, ctx, runId, kill)) };
  } finally {
    await ctx.close();
  }
}

/** `reparse --all` on a synced database, with what an older extractor left behind to change. */
async function reparseRun(env: TestEnv, kill: boolean) {
  const ctx = createTestContext(env, { LOVDATA_API_URL: emu.url });
  try {
    await env.database.pool.query(
      `UPDATE sections SET text = replace(text, '. ', '.'), text_hash = md5(text) WHERE text LIKE '%. %' AND ord % 7 = 0`,
    );
    const { runId } = await startReparse(ctx, { all: true });
    return { env, ...(await parseRun(env, ctx, runId, kill)) };
  } finally {
    await ctx.close();
  }
}

let synced: { clean: TestEnv; killed: TestEnv } | undefined;

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
  synced = { clean: clean.env, killed: killed.env };
}, 180_000);

it('a parser killed with SIGKILL during a reparse converges to the database of an uninterrupted reparse', async () => {
  expect(synced, 'needs the databases of the test above').toBeDefined();
  const clean = await reparseRun(synced!.clean, false);
  const killed = await reparseRun(synced!.killed, true);
  expect(clean.run).toMatchObject({ trigger: 'reparse', status: 'succeeded', parseSucceeded: clean.total });
  expect(killed.run).toMatchObject({ trigger: 'reparse', status: 'succeeded', parseSucceeded: clean.total });
  expect(
    await rows(clean.env, 'SELECT DISTINCT change, kind FROM document_changes WHERE run_id = $1', [
      clean.run.id,
    ]),
  ).toEqual([{ change: 'modified', kind: 'reparse' }]);
  expect(await contentDigest(killed.env)).toEqual(await contentDigest(clean.env));
}, 180_000);
