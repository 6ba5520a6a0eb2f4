/**
 * Clear errors instead of raw ones (issue 17 point 12) and the forced-sync flood (point 13), with
 * real Postgres and Redis, the emulator, real CLI processes and the real HTTP server. Each bad
 * input gets one readable error, leaves committed data untouched and leaves no run `running`.
 * (`changes --run 99999999999` is tried in test/cli/failures.int.test.ts.)
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Worker } from 'bullmq';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createSyncWorker, requestSync, runSync } from '@lovsync/sync';
import { createDiffWorker, startReconciler } from '@lovsync/differ';
import { createParseWorker } from '@lovsync/parser';
import { getRun } from '@lovsync/shared/db';
import { buildTarBz2, fixtureEntries } from '@lovsync/testkit/archive/archive-builder';
import { startEmulator, type Emulator } from '@lovsync/testkit/emulator/server';
import { createTestEnv, deleteRedisPrefix, type TestEnv } from '@lovsync/testkit/support/harness';
import { contentDigest, createTestContext, rows } from '@lovsync/testkit/support/context';
import { parsePending, syncAndDiff, waitForRun } from '@lovsync/testkit/support/cycle';
import { createMetrics } from '@lovsync/app/http/metrics';
import { startHttpServer } from '@lovsync/app/http/server';
import type { Runtime } from '@lovsync/shared/runtime';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const exec = promisify(execFile);
const A = 'gjeldende-lover.tar.bz2';
const B = 'gjeldende-lovtidend.tar.bz2';
let env: TestEnv;
let emu: Emulator;
let ctx: Runtime;
let archives: string;

const overrides = (more: Record<string, string> = {}) => ({
  LOVDATA_API_URL: emu.url,
  LOVDATA_DATASET_FILTER: 'gjeldende',
  ...more,
});
const gets = () => emu.requests.filter((r) => r.url.includes('/get/'));

async function withContext<T>(more: Record<string, string>, fn: (c: Runtime) => Promise<T>): Promise<T> {
  const c = createTestContext(env, overrides(more));
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}

async function expectNoRunRunning(): Promise<void> {
  expect(await rows(env, `SELECT id FROM sync_runs WHERE status = 'running'`)).toEqual([]);
}

async function goodSync(): Promise<Record<string, string>> {
  const r = await syncAndDiff(ctx);
  await parsePending(ctx, r.runId);
  expect((await getRun(env.database.pool, r.runId))!.status).toBe('succeeded');
  return contentDigest(env);
}

beforeAll(async () => {
  env = await createTestEnv('clear_errors');
  archives = join(env.tmp, 'archives');
  await mkdir(archives, { recursive: true });
  emu = await startEmulator({ dir: archives });
  ctx = createTestContext(env, overrides());
});
afterAll(async () => {
  await ctx?.close();
  await emu?.close();
  await env?.teardown();
});
beforeEach(async () => {
  emu.setFault(null);
  emu.resetRequests();
  const tables = await rows<{ t: string }>(
    env,
    `SELECT quote_ident(tablename) AS t FROM pg_tables WHERE schemaname = 'public'`,
  );
  await env.database.pool.query(`TRUNCATE ${tables.map((r) => r.t).join(', ')} RESTART IDENTITY CASCADE`);
  await deleteRedisPrefix(env.prefix);
  await buildTarBz2(fixtureEntries('gjeldende-lover'), join(archives, A));
  await buildTarBz2(fixtureEntries('lovtidend-avd1-2025'), join(archives, B));
});

describe('archives', () => {
  it('two entries that name one file (`./nl/x` and `nl/x`): the dataset is refused in words, not with a unique-constraint error', async () => {
    const before = await goodSync();
    const entries = fixtureEntries('gjeldende-lover');
    await buildTarBz2([...entries, { path: `./${entries[0]!.path}`, content: '<x/>' }], join(archives, A));
    const r = await syncAndDiff(ctx);
    const a = r.results.find((x) => x.dataset === A)!;
    expect(a).toMatchObject({
      outcome: 'failed',
      error: `archive has two entries for ${entries[0]!.path} (after normalising ./ and //); refused`,
    });
    expect(a.error).not.toMatch(/duplicate key|constraint/);
    expect(await contentDigest(env)).toEqual(before);
    await expectNoRunRunning();
  });

  it.each(['bzip2', 'js'])(
    'an archive truncated near its end says so in words (%s decoder)',
    async (decoder) => {
      const before = await goodSync();
      for (const cut of [4, 30]) {
        const file = join(archives, A);
        await buildTarBz2(
          [...fixtureEntries('gjeldende-lover'), { path: 'nl/new.xml', content: '<x/>' }],
          file,
        );
        await truncate(file, (await stat(file)).size - cut);
        const r = await withContext({ BZIP2_DECODER: decoder }, (c) => syncAndDiff(c));
        const error = r.results.find((x) => x.dataset === A)!.error!;
        expect(error).toMatch(/corrupt or truncated/);
        expect(error).toMatch(
          /ends in the middle of an entry|damaged or ends early|ends unexpectedly|ended prematurely/,
        );
        expect(error).not.toMatch(/: Unexpected end of data$|Cannot read properties/);
        expect(await contentDigest(env)).toEqual(before);
      }
      await expectNoRunRunning();
    },
    60_000,
  );
});

describe('the dataset list', () => {
  it('3,000 bogus names: refused whole before any archive is requested, with a bounded error', async () => {
    const before = await goodSync();
    emu.resetRequests();
    const body = Array.from({ length: 3000 }, (_, i) => ({
      filename: `gjeldende-bogus-${i}.tar.bz2`,
      lastModified: new Date().toISOString(),
      sizeBytes: '100',
    }));
    emu.setFault({ kind: 'list-override', body });
    await expect(
      runSync(ctx, { trigger: 'manual', force: false, requestedAt: new Date().toISOString() }),
    ).rejects.toThrow(/names 3000 datasets .*more than LOVDATA_MAX_DATASETS 500; refused/);
    expect(gets()).toHaveLength(0);
    const [run] = await rows<{ status: string; error: string }>(
      env,
      'SELECT status, error FROM sync_runs ORDER BY id DESC LIMIT 1',
    );
    expect(run!.status).toBe('failed');
    expect(run!.error.length).toBeLessThan(300);
    expect(await contentDigest(env)).toEqual(before);
    await expectNoRunRunning();
  });

  it('30 bogus (404) names next to the real ones: one request each, and the run error names 10 and counts the rest', async () => {
    const before = await goodSync();
    const real = (await (await fetch(`${emu.url}/v1/publicData/list`)).json()) as object[];
    const bogus = Array.from({ length: 30 }, (_, i) => ({
      filename: `gjeldende-bogus-${i}.tar.bz2`,
      lastModified: new Date().toISOString(),
      sizeBytes: '100',
    }));
    emu.setFault({ kind: 'list-override', body: [...real, ...bogus] });
    emu.resetRequests();
    const r = await syncAndDiff(ctx);
    expect(gets()).toHaveLength(30);
    const run = (await getRun(env.database.pool, r.runId))!;
    expect(run.status).toBe('partial');
    expect(run.error!.split('\n')).toHaveLength(11);
    expect(run.error).toMatch(/\.\.\. and 20 more failed dataset\(s\) \(see run_datasets\)$/);
    expect(
      await rows(env, `SELECT 1 FROM run_datasets WHERE run_id = $1 AND status = 'failed'`, [r.runId]),
    ).toHaveLength(30);
    expect(await contentDigest(env)).toEqual(before);
    await expectNoRunRunning();
  });
});

describe('documents', () => {
  it('a 100,003-character dokid is refused as malformed and nothing of it is stored', async () => {
    await goodSync();
    const entries = fixtureEntries('gjeldende-lover');
    const source = (
      await readFile(join(ROOT, 'test/fixtures/lovdata/gjeldende-lover', entries[0]!.path), 'utf8')
    ).replace(/<dd class="dokid">[^<]*<\/dd>/, `<dd class="dokid">NL/lov/${'9'.repeat(100_003 - 7)}</dd>`);
    expect(source).toContain('9'.repeat(1000));
    await buildTarBz2([...entries, { path: 'nl/nl-29990101-001.xml', content: source }], join(archives, A));
    const r = await syncAndDiff(ctx);
    // The parse worker records a malformed document on its file_changes row (not retried).
    const parser = createParseWorker(ctx);
    try {
      await waitForRun(ctx, r.runId, 60_000);
    } finally {
      await parser.close();
    }
    const [fc] = await rows<{ parse_status: string; parse_error: string }>(
      env,
      `SELECT parse_status, parse_error FROM file_changes WHERE run_id = $1 AND path = 'nl/nl-29990101-001.xml'`,
      [r.runId],
    );
    expect(fc).toMatchObject({
      parse_status: 'failed',
      parse_error: expect.stringMatching(/dokid is 100003 characters long, more than 200/),
    });
    expect(fc!.parse_error.length).toBeLessThan(500);
    expect(await rows(env, 'SELECT 1 FROM documents WHERE length(document_id) > 200')).toEqual([]);
    await expectNoRunRunning();
  });
});

describe('sync --wait', () => {
  it('after a Redis restart mid-sync reports the run’s real outcome, never "failed: gone"', async () => {
    const workers: Worker[] = [];
    let reconciler: { stop(): void } | undefined;
    try {
      workers.push(await createSyncWorker(ctx), createDiffWorker(ctx), createParseWorker(ctx));
      // As `serve --role differ` does: re-derives the jobs the Redis restart lost.
      reconciler = startReconciler(ctx, 1_000);
      emu.setFault({ kind: 'slow', bytesPerSecond: 10_000, dataset: A });
      const cli = exec(process.execPath, ['apps/lovsync/bin/lovsync.js', 'sync', '--wait'], {
        cwd: ROOT,
        env: { ...process.env, ...env.env(overrides()) },
        timeout: 120_000,
      }).then(
        (x) => ({ code: 0, stdout: x.stdout, stderr: x.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => ({
          code: e.code,
          stdout: e.stdout,
          stderr: e.stderr,
        }),
      );
      let runId: number | undefined;
      for (let i = 0; i < 600 && runId === undefined; i++) {
        const r = await rows<{ run_id: number }>(
          env,
          `SELECT run_id FROM run_datasets WHERE dataset = $1 AND status = 'downloading'`,
          [A],
        );
        runId = r[0]?.run_id;
        await new Promise((res) => setTimeout(res, 100));
      }
      expect(runId).toBeDefined();
      // Give the CLI time to read the run id from the job (it polls every 500 ms), then lose Redis.
      await new Promise((res) => setTimeout(res, 1_500));
      await deleteRedisPrefix(env.prefix);
      const run = await waitForRun(ctx, runId!, 120_000);
      expect(run.status).toBe('succeeded');
      const out = await cli;
      expect(out.stderr).not.toMatch(/gone/);
      expect(out.stdout).toContain(`run ${runId} succeeded`);
      expect(out.code).toBe(0);
    } finally {
      reconciler?.stop();
      await Promise.all(workers.map((w) => w.close(true)));
    }
  }, 180_000);
});

describe('Bull Board', () => {
  async function board(allowMutations: boolean) {
    const rt = createTestContext(env, overrides({ DASHBOARD_ALLOW_MUTATIONS: String(allowMutations) }));
    const http = await startHttpServer(rt, {
      dashboard: true,
      metrics: createMetrics(rt),
      isShuttingDown: () => false,
      port: 0,
    });
    return { rt, http, base: `http://127.0.0.1:${http.port}/admin/queues/api/queues` };
  }

  it('"pause all" and "resume all" are refused in read-only mode (405) and pause nothing', async () => {
    const { rt, http, base } = await board(false);
    try {
      for (const action of ['pause', 'resume']) {
        const res = await fetch(`${base}/${action}`, { method: 'PUT' });
        expect(res.status, action).toBe(405);
        expect(await res.text()).toMatch(/read-only/);
      }
      for (const q of [rt.queues.sync, rt.queues.diff, rt.queues.parse])
        expect(await q.isPaused()).toBe(false);
      expect((await fetch(base)).status).toBe(200);
    } finally {
      await http.close();
      await rt.close();
    }
  });

  it('with DASHBOARD_ALLOW_MUTATIONS=true they work', async () => {
    const { rt, http, base } = await board(true);
    try {
      expect((await fetch(`${base}/pause`, { method: 'PUT' })).status).toBe(200);
      expect(await rt.queues.parse.isPaused()).toBe(true);
      expect((await fetch(`${base}/resume`, { method: 'PUT' })).status).toBe(200);
      expect(await rt.queues.parse.isPaused()).toBe(false);
    } finally {
      await http.close();
      await rt.close();
    }
  });
});

describe('#17.13 forced-sync flood', () => {
  it('200 forced POSTs: one forced run (FORCED_SYNC_MIN_INTERVAL_SECONDS), the rest coalesced into it or refused with 429 and Retry-After', async () => {
    await goodSync();
    const rt = createTestContext(env, overrides({ FORCED_SYNC_MIN_INTERVAL_SECONDS: '300' }));
    const http = await startHttpServer(rt, {
      dashboard: true,
      metrics: createMetrics(rt),
      isShuttingDown: () => false,
      port: 0,
    });
    const workers: Worker[] = [];
    try {
      workers.push(await createSyncWorker(rt), createDiffWorker(rt), createParseWorker(rt));
      const statuses: number[] = [];
      const jobIds = new Set<string>();
      for (let i = 0; i < 20; i++) {
        const batch = await Promise.all(
          Array.from({ length: 10 }, () =>
            fetch(`http://127.0.0.1:${http.port}/api/runs`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: '{"force":true}',
            }),
          ),
        );
        for (const res of batch) {
          statuses.push(res.status);
          const body = (await res.json()) as { jobId?: string; error?: string };
          if (res.status === 202) jobIds.add(body.jobId!);
          else {
            expect(res.status).toBe(429);
            expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
            expect(body.error).toMatch(/FORCED_SYNC_MIN_INTERVAL_SECONDS/);
          }
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(statuses).toContain(429);
      expect(jobIds.size).toBe(1);
      // Plain requests are not limited.
      const plain = await fetch(`http://127.0.0.1:${http.port}/api/runs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"force":false}',
      });
      expect(plain.status).toBe(202);
      // Let everything queued run out.
      for (let i = 0; i < 600; i++) {
        const c = await rt.queues.sync.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
        const running = await rows(env, `SELECT 1 FROM sync_runs WHERE status = 'running'`);
        if (Object.values(c).every((n) => n === 0) && running.length === 0) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(await rows(env, `SELECT count(*)::int AS n FROM sync_runs WHERE force`)).toEqual([{ n: 1 }]);
      await expectNoRunRunning();
      // The CLI is limited the same way.
      await expect(
        requestSync(rt.queues, { trigger: 'manual', force: true }, { forcedMinIntervalSeconds: 300 }),
      ).rejects.toThrow(/FORCED_SYNC_MIN_INTERVAL_SECONDS/);
    } finally {
      await Promise.all(workers.map((w) => w.close(true)));
      await http.close();
      await rt.close();
    }
  }, 180_000);
});
