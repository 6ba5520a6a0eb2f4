/**
 * Ctrl-C on `lovsync run` (issue 16 point 4): the process ends within the bound with exit 130, the
 * run is failed with the reason (never left `running`), nothing stays held (no manifested or
 * downloading dataset, no active sync job), and the next `lovsync run` starts at once and succeeds.
 * Tried with SIGINT and SIGTERM while the emulator drips the archive slowly.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFixtureArchives } from '@lovsync/testkit/archive/archive-builder';
import { startEmulator, type Emulator } from '@lovsync/testkit/emulator/server';
import { createTestEnv, type TestEnv } from '@lovsync/testkit/support/harness';
import { createQueues } from '@lovsync/shared/queues';
import { Redis } from 'ioredis';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const exec = promisify(execFile);
let env: TestEnv;
let emu: Emulator;

beforeAll(async () => {
  env = await createTestEnv('cli_interrupt');
  const dir = join(env.tmp, 'archives');
  await mkdir(dir, { recursive: true });
  await buildFixtureArchives(dir);
  emu = await startEmulator({ dir });
});
afterAll(async () => {
  await emu?.close();
  await env?.teardown();
});

const q = async <T>(sql: string, params: unknown[] = []) =>
  (await env.database.pool.query(sql, params)).rows as T[];

describe.each(['SIGINT', 'SIGTERM'] as const)('%s on `lovsync run`', (signal) => {
  it('ends with 130, fails the run with the reason, holds nothing; the next run starts at once', async () => {
    emu.setFault({ kind: 'slow', bytesPerSecond: 20_000, path: 'get' });
    const childEnv = {
      ...process.env,
      ...env.env({ LOVDATA_API_URL: emu.url, SHUTDOWN_TIMEOUT_SECONDS: '3' }),
    };
    const child = spawn(process.execPath, ['apps/lovsync/bin/lovsync.js', 'run', '--force'], {
      cwd: ROOT,
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    // Wait until the run is downloading.
    await expect
      .poll(
        async () =>
          (
            await q<{ n: number }>(`SELECT count(*)::int AS n FROM run_datasets WHERE status = 'downloading'`)
          )[0]!.n,
        { timeout: 30_000, interval: 100 },
      )
      .toBeGreaterThan(0);
    const runId = (await q<{ id: number }>(`SELECT max(id) AS id FROM sync_runs`))[0]!.id;
    const t0 = performance.now();
    child.kill(signal);
    const code = await exited;
    const ms = performance.now() - t0;
    emu.setFault(null);

    expect(code).toBe(130);
    expect(ms).toBeLessThan(10_000); // SHUTDOWN_TIMEOUT_SECONDS=3 plus start-up slack
    expect(stderr).toMatch(new RegExp(`${signal} received: stopping`));
    expect(stderr).toMatch(new RegExp(`interrupted by ${signal}: run ${runId} marked failed`));
    const [run] = await q<{ status: string; error: string }>(
      `SELECT status, error FROM sync_runs WHERE id = $1`,
      [runId],
    );
    expect(run).toMatchObject({ status: 'failed', error: expect.stringMatching(`interrupted by ${signal}`) });
    expect(
      await q(
        `SELECT dataset, status FROM run_datasets WHERE run_id = $1 AND status IN ('downloading', 'manifested')`,
        [runId],
      ),
    ).toEqual([]);
    expect(await q(`SELECT 1 FROM manifest_entries WHERE run_id = $1`, [runId])).toEqual([]);
    const redis = new Redis(env.env().REDIS_URL!, { maxRetriesPerRequest: null });
    const queues = createQueues(redis, env.prefix);
    try {
      expect(await queues.sync.getActiveCount()).toBe(0);
    } finally {
      await queues.close();
      await redis.quit();
    }

    // The next run does not wait behind the interrupted one: it finishes well inside the old lock time.
    const t1 = performance.now();
    const next = await exec(process.execPath, ['apps/lovsync/bin/lovsync.js', 'run', '--json'], {
      cwd: ROOT,
      env: childEnv,
      timeout: 60_000,
      maxBuffer: 64 << 20,
    });
    const result = JSON.parse(next.stdout) as { run: { id: number; status: string } };
    expect(result.run.id).toBeGreaterThan(runId);
    expect(result.run.status).toBe('succeeded');
    expect(performance.now() - t1).toBeLessThan(30_000);
    expect(next.stderr).not.toMatch(/earlier sync .* still active/);
  });
});
