/**
 * The failure modes a new user meets in the first hour (issue 16): every command ends within a
 * bound with one clear line, `--json` is always JSON, and the summary never passes a failure off as
 * a result. Real CLI processes against the emulator, real Postgres and Redis.
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
import { rows } from '@lovsync/testkit/support/context';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const exec = promisify(execFile);
const DOWN_REDIS = 'redis://127.0.0.1:6399';
let env: TestEnv;
let emu: Emulator;

async function lovsync(args: string[], extraEnv: Record<string, string> = {}) {
  const t0 = performance.now();
  try {
    const r = await exec(process.execPath, ['apps/lovsync/bin/lovsync.js', ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env.env({ LOVDATA_API_URL: emu.url }), ...extraEnv },
      timeout: 50_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr, ms: performance.now() - t0 };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string; killed?: boolean };
    return {
      code: e.killed ? 'killed' : e.code,
      stdout: e.stdout,
      stderr: e.stderr,
      ms: performance.now() - t0,
    };
  }
}

beforeAll(async () => {
  env = await createTestEnv('cli_failures');
  const dir = join(env.tmp, 'archives');
  await mkdir(dir, { recursive: true });
  await buildFixtureArchives(dir);
  emu = await startEmulator({ dir });
});
afterAll(async () => {
  await emu?.close();
  await env?.teardown();
});

describe('Redis down', () => {
  it.each([['run'], ['sync'], ['sync', '--wait']])(
    '`lovsync %s` fails within the bound with one line naming REDIS_URL',
    async (...args) => {
      const r = await lovsync(args, { REDIS_URL: DOWN_REDIS, REDIS_CONNECT_TIMEOUT_SECONDS: '3' });
      expect(r.code).toBe(1);
      expect(r.ms).toBeLessThan(15_000);
      const lines = r.stderr.trim().split('\n');
      expect(lines).toEqual([
        expect.stringMatching(
          /^lovsync: cannot reach Redis at REDIS_URL=redis:\/\/127\.0\.0\.1:6399 within 3 s/,
        ),
      ]);
      expect(r.stderr).not.toMatch(/at TCPConnectWrap|errno/);
    },
  );

  it('`lovsync serve` keeps retrying and reports not ready on /readyz, naming Redis', async () => {
    const child = spawn(process.execPath, ['apps/lovsync/bin/lovsync.js', 'serve', '--role', 'parser'], {
      cwd: ROOT,
      env: { ...process.env, ...env.env({ REDIS_URL: DOWN_REDIS, HTTP_PORT: '0', LOG_LEVEL: 'info' }) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    try {
      await expect
        .poll(() => /"url":"(http:[^"]+)"/.exec(out)?.[1], { timeout: 30_000, interval: 200 })
        .toBeTruthy();
      const url = /"url":"(http:[^"]+)"/.exec(out)![1]!;
      const res = await fetch(`${url}/readyz`);
      expect(res.status).toBe(503);
      const body = (await res.json()) as { checks: { redis: { ok: boolean }; postgres: { ok: boolean } } };
      expect(body.checks).toMatchObject({ redis: { ok: false }, postgres: { ok: true } });
      expect(child.exitCode).toBeNull();
      expect(err).not.toMatch(/at TCPConnectWrap/);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('sync --wait with no sync worker', () => {
  it('says nothing is consuming the sync queue and exits 1', async () => {
    const r = await lovsync(['sync', '--wait']);
    expect(r.code).toBe(1);
    expect(r.ms).toBeLessThan(30_000);
    expect(r.stderr).toMatch(/nothing is consuming the sync queue: no sync worker/);
  });
});

describe('offline first run', () => {
  it('names LOVDATA_API_URL and `pnpm demo`, and prints no zero counts as if they were a result', async () => {
    const r = await lovsync(['run'], { LOVDATA_API_URL: 'http://127.0.0.1:9', LOVDATA_API_TIMEOUT: '2' });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /^run \d+ failed: cannot read the dataset list: .*LOVDATA_API_URL=http:\/\/127\.0\.0\.1:9.*pnpm demo/,
    );
    expect(r.stdout).not.toMatch(/0 checked/);
  });
});

describe('output users script against', () => {
  it('`run --json` is JSON on stdout even with info logs; numbers stay numbers; a rerun with the same content changed no dataset', async () => {
    const r = await lovsync(['run', '--json'], { LOG_LEVEL: 'info' });
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.run).toMatchObject({ status: 'succeeded', filesAdded: 21, datasetsChanged: 2 });
    expect(r.stderr).toMatch(/sync started/);

    const again = JSON.parse((await lovsync(['run', '--force', '--json'], { LOG_LEVEL: 'info' })).stdout);
    // The archives were read again (forced), but no content changed.
    expect(again.run).toMatchObject({ status: 'succeeded', datasetsChecked: 2, datasetsChanged: 0 });

    const stats = JSON.parse((await lovsync(['files', 'stats', '--json'])).stdout);
    for (const s of stats) {
      for (const k of ['total', 'added', 'modified', 'unchanged', 'removed', 'bytes'])
        expect(typeof s[k], `${s.dataset}.${k}`).toBe('number');
    }
    expect(stats[0].bytes).toBeGreaterThan(0);
    const runs = JSON.parse((await lovsync(['runs', '--json'])).stdout);
    expect(typeof runs[0].bytesDownloaded).toBe('number');
  });

  it('changes: unknown, non-integer and out-of-range run ids are clear errors', async () => {
    const unknown = await lovsync(['changes', '--run', '999']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr.trim()).toBe('lovsync: run 999 not found (see `lovsync runs`)');
    const big = await lovsync(['changes', '--run', '99999999999']);
    expect(big.code).not.toBe(0);
    expect(big.stderr).toMatch(/out of range/);
    expect(big.stderr).not.toMatch(/\n\s+at /);
    const text = await lovsync(['changes', '--run', '1.5']);
    expect(text.code).not.toBe(0);
    expect(text.stderr).toMatch(/positive whole number/);
  });

  it('changes lists sections in document order (ord), not as text', async () => {
    // A first run records no section changes (documents are added whole): record every section of
    // the documents as modified in run 1, in the stored (random) row order.
    await env.database.pool.query(
      `INSERT INTO section_changes (run_id, document_id, section_key, change, number, heading_path, old_text, new_text)
       SELECT 1, document_id, section_key, 'modified', number, heading_path, text, text FROM sections
       ORDER BY md5(section_key)`,
    );
    const changes = JSON.parse((await lovsync(['changes', '--run', '1', '--json'])).stdout) as {
      sections: { documentId: string; sectionKey: string }[];
    };
    expect(changes.sections.length).toBeGreaterThan(0);
    const expected = await rows<{ documentId: string; sectionKey: string }>(
      env,
      `SELECT sc.document_id AS "documentId", sc.section_key AS "sectionKey" FROM section_changes sc
       JOIN sections s USING (document_id, section_key) WHERE sc.run_id = 1 ORDER BY sc.document_id, s.ord`,
    );
    expect(changes.sections.map((s) => [s.documentId, s.sectionKey])).toEqual(
      expected.map((s) => [s.documentId, s.sectionKey]),
    );
    // The fixtures have § numbers past 9, so text order would differ.
    const textOrder = [...expected].sort((a, b) =>
      a.documentId === b.documentId ? (a.sectionKey < b.sectionKey ? -1 : 1) : 0,
    );
    expect(textOrder).not.toEqual(expected);
  });

  it('runs shows an error column; --version prints the version', async () => {
    await env.database.pool.query(`UPDATE sync_runs SET error = 'boom: example' WHERE id = 1`);
    const runs = await lovsync(['runs']);
    expect(runs.stdout.split('\n')[0]).toMatch(/\berror$/);
    expect(runs.stdout).toMatch(/boom: example/);
    const v = await lovsync(['--version']);
    expect(v).toMatchObject({ code: 0, stdout: '0.1.0\n' });
  });
});
