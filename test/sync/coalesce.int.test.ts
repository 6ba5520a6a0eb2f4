/**
 * Only one sync runs at a time, whoever asked; requests made meanwhile are coalesced, not lost.
 * Also the poller: it requests a `poll` sync only when some dataset's lastModified moved.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Worker } from 'bullmq';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createSyncWorker, requestSync, startPoller } from '@lovsync/sync';
import { createDiffWorker } from '@lovsync/differ';
import { createParseWorker } from '@lovsync/parser';
import { buildTarBz2, fixtureEntries } from '@lovsync/testkit/archive/archive-builder';
import { startEmulator, type Emulator } from '@lovsync/testkit/emulator/server';
import { createTestEnv, type TestEnv } from '@lovsync/testkit/support/harness';
import { createTestContext, rows } from '@lovsync/testkit/support/context';
import type { Runtime } from '@lovsync/shared/runtime';

let env: TestEnv;
let emu: Emulator;
let ctx: Runtime;
const workers: Worker[] = [];

type RunRow = {
  id: number;
  trigger: string;
  status: string;
  started_at: Date;
  sync_finished_at: Date | null;
};
const allRuns = () =>
  rows<RunRow>(env, 'SELECT id, trigger, status, started_at, sync_finished_at FROM sync_runs ORDER BY id');

async function until(pred: () => Promise<boolean>, ms = 60_000) {
  const t0 = Date.now();
  while (!(await pred())) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  env = await createTestEnv('coalesce');
  const dir = join(env.tmp, 'archives');
  await mkdir(dir, { recursive: true });
  await buildTarBz2(fixtureEntries('gjeldende-lover'), join(dir, 'gjeldende-lover.tar.bz2'));
  emu = await startEmulator({ dir });
  ctx = createTestContext(env, { LOVDATA_API_URL: emu.url });
  // Two sync workers (as two replicas would have): the queue's global concurrency keeps it to one sync.
  workers.push(
    await createSyncWorker(ctx),
    await createSyncWorker(ctx),
    createDiffWorker(ctx),
    createParseWorker(ctx),
  );
});
afterAll(async () => {
  await Promise.all(workers.map((w) => w.close()));
  await ctx?.close();
  await emu?.close();
  await env?.teardown();
});

it('two requests at once give one run at a time; a request during a run queues exactly one more', async () => {
  // A slow body keeps the first sync running for a while.
  emu.setFault({ kind: 'slow', bytesPerSecond: 40_000, count: 1, path: 'get' });
  await Promise.all([
    requestSync(ctx.queues, { trigger: 'manual', force: true }),
    requestSync(ctx.queues, { trigger: 'api', force: true }),
  ]);
  await until(async () => (await allRuns()).length === 1);
  // While run 1 downloads: three more requests. They coalesce into one waiting sync.
  await requestSync(ctx.queues, { trigger: 'manual', force: true });
  await requestSync(ctx.queues, { trigger: 'api', force: true });
  await requestSync(ctx.queues, { trigger: 'manual', force: true });
  await until(async () => {
    const r = await allRuns();
    return r.length >= 2 && r.every((x) => x.status !== 'running');
  });
  await new Promise((r) => setTimeout(r, 1000)); // nothing else may start
  const runs = await allRuns();
  expect(runs).toHaveLength(2);
  expect(runs.every((r) => r.status === 'succeeded')).toBe(true);
  // Never two syncs at once: the second started after the first's sync phase ended.
  expect(runs[1]!.started_at.getTime()).toBeGreaterThanOrEqual(runs[0]!.sync_finished_at!.getTime());
});

it('the poller requests a sync only when a dataset moved', async () => {
  const poller = startPoller(ctx);
  try {
    const before = (await allRuns()).length;
    expect(await poller.check()).toBe(false);
    emu.setLastModified('gjeldende-lover.tar.bz2', new Date('2030-01-01T02:31:00Z'));
    expect(await poller.check()).toBe(true);
    await until(async () => {
      const r = await allRuns();
      return r.length === before + 1 && r.at(-1)!.status !== 'running';
    });
    const last = (await allRuns()).at(-1)!;
    expect(last).toMatchObject({ trigger: 'poll', status: 'succeeded' });
    expect(await poller.check()).toBe(false);
  } finally {
    poller.stop();
  }
});
