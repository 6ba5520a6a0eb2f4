/**
 * Download edge cases (issue 17 point 10), against the emulator over real HTTP with real Postgres
 * and Redis: a first body chunk under 4 bytes, a slow drip that would hold the sync slot without
 * bound, a 206 whose Content-Range does not continue the partial download, and a body shorter than
 * the list's sizeBytes. Each ends with the right outcome and nothing wrong committed.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildTarBz2, fixtureEntries } from '@lovsync/testkit/archive/archive-builder';
import { startEmulator, type Emulator } from '@lovsync/testkit/emulator/server';
import { createTestEnv, deleteRedisPrefix, type TestEnv } from '@lovsync/testkit/support/harness';
import { contentDigest, createTestContext, rows } from '@lovsync/testkit/support/context';
import { syncAndDiff } from '@lovsync/testkit/support/cycle';
import type { Runtime } from '@lovsync/shared/runtime';

const DS = 'gjeldende-lover.tar.bz2';
let env: TestEnv;
let emu: Emulator;
let ctx: Runtime;
let archives: string;
let emptyDigest: Record<string, string>;

const gets = () => emu.requests.filter((r) => r.url.includes('/get/'));

async function withContext<T>(overrides: Record<string, string>, fn: (c: Runtime) => Promise<T>): Promise<T> {
  const c = createTestContext(env, {
    LOVDATA_API_URL: emu.url,
    LOVDATA_DATASET_FILTER: 'gjeldende',
    ...overrides,
  });
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}

async function expectNoRunRunning(): Promise<void> {
  expect(await rows(env, `SELECT id FROM sync_runs WHERE status = 'running'`)).toEqual([]);
}

beforeAll(async () => {
  env = await createTestEnv('download_edges');
  archives = join(env.tmp, 'archives');
  await mkdir(archives, { recursive: true });
  emu = await startEmulator({ dir: archives });
  ctx = createTestContext(env, { LOVDATA_API_URL: emu.url, LOVDATA_DATASET_FILTER: 'gjeldende' });
  emptyDigest = await contentDigest(env);
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
  await buildTarBz2(fixtureEntries('gjeldende-lover'), join(archives, DS));
});

describe('download edge cases', () => {
  it('a first body chunk of 2 bytes is read on until 4 bytes before the archive type is judged', async () => {
    emu.setFault({ kind: 'first-chunk', bytes: 2, path: 'get' });
    const r = await syncAndDiff(ctx);
    expect(gets()[0]!.fault).toBe('first-chunk');
    expect(r.results[0]).toMatchObject({ outcome: 'manifested', files: 8 });
    expect(await rows(env, 'SELECT 1 FROM files')).toHaveLength(8);
  });

  it('a body that ends before 4 bytes is judged on what came: refused as not an archive', async () => {
    // No sizeBytes in the list, so only the magic check can refuse the 1-byte body.
    emu.setFault([
      { kind: 'list-override', body: [{ filename: DS, lastModified: new Date().toISOString() }], count: 1 },
      { kind: 'short-body', bytes: 1, count: 1 },
    ]);
    const r = await syncAndDiff(ctx);
    expect(r.results[0]).toMatchObject({
      outcome: 'failed',
      error: expect.stringMatching(/not a bzip2 or zip archive \(starts "B"\)/),
    });
    expect(await contentDigest(env)).toEqual(emptyDigest);
  });

  it('a slow drip ends at the overall deadline derived from the archive size, and nothing is committed', async () => {
    // 54 KB at 4 KB/s would take ~14 s; the deadline is 2 s + size at 100 KB/s (~2.6 s). Each
    // chunk arrives well within the per-chunk timeout (LOVDATA_API_TIMEOUT 2 s).
    emu.setFault({ kind: 'slow', bytesPerSecond: 4_000, path: 'get' });
    const r = await withContext(
      { LOVDATA_API_TIMEOUT: '2', LOVDATA_MIN_DOWNLOAD_BYTES_PER_SECOND: '100000' },
      (c) => syncAndDiff(c),
    );
    expect(r.results[0]).toMatchObject({
      outcome: 'failed',
      error: expect.stringMatching(/overall deadline for its size/),
    });
    // Not retried: a drip would otherwise hold the slot five times as long.
    expect(gets()).toHaveLength(1);
    expect(await contentDigest(env)).toEqual(emptyDigest);
    await expectNoRunRunning();
  }, 60_000);

  it('a slow drip of an archive whose size nobody says (no sizeBytes, no Content-Length) ends at the rate floor, not after days', async () => {
    // Without a size the size-derived deadline would be MAX_ARCHIVE_BYTES (16 GiB) at 100 KB/s: two
    // days. The floor per LOVDATA_API_TIMEOUT window (2 s x 100 KB/s = 200 KB) ends it after one window.
    emu.setFault([
      { kind: 'list-override', body: [{ filename: DS, lastModified: new Date().toISOString() }], count: 1 },
      { kind: 'slow', bytesPerSecond: 4_000, chunked: true, path: 'get' },
    ]);
    const t0 = performance.now();
    const r = await withContext(
      { LOVDATA_API_TIMEOUT: '2', LOVDATA_MIN_DOWNLOAD_BYTES_PER_SECOND: '100000' },
      (c) => syncAndDiff(c),
    );
    expect(r.results[0]).toMatchObject({
      outcome: 'failed',
      error: expect.stringMatching(
        /bytes in the last 2 s .*below LOVDATA_MIN_DOWNLOAD_BYTES_PER_SECOND 100000 with no size known/,
      ),
    });
    expect(performance.now() - t0).toBeLessThan(30_000);
    expect(gets()).toHaveLength(1);
    expect(gets()[0]!.fault).toBe('slow');
    expect(await contentDigest(env)).toEqual(emptyDigest);
    await expectNoRunRunning();
  }, 60_000);

  it('a 206 whose Content-Range does not start where the partial download ends is never appended: the download restarts from 0', async () => {
    // A bigger archive, so that the part before the cut has reached the client when the socket dies.
    await buildTarBz2(
      [...fixtureEntries('gjeldende-lover'), ...fixtureEntries('lovtidend-avd1-2025')],
      join(archives, DS),
    );
    emu.setFault([
      // The hold lets the client store the first part before the cut (on a busy machine it had not
      // always, and then rightly restarted without a Range: this test's 206 never came).
      { kind: 'truncate', afterBytes: 150_000, holdMs: 500, count: 1, path: 'get' },
      { kind: 'wrong-range-start', shift: 1000, count: 1 },
    ]);
    const r = await syncAndDiff(ctx);
    const g = gets();
    expect(g.map((x) => [x.status, x.fault])).toEqual([
      [200, 'truncate'],
      [206, 'wrong-range-start'],
      [200, null],
    ]);
    expect(g[1]!.headers.range).toMatch(/^bytes=\d+-$/);
    expect(g[2]!.headers.range).toBeUndefined();
    expect(r.results[0]).toMatchObject({ outcome: 'manifested', files: 21 });
  });

  it('a body shorter than the list’s sizeBytes (consistent with its own Content-Length) is refused, not retried, nothing committed', async () => {
    emu.setFault({ kind: 'short-body', bytes: 20_000 });
    const r = await syncAndDiff(ctx);
    expect(r.results[0]).toMatchObject({
      outcome: 'failed',
      error: expect.stringMatching(/the archive is 20000 bytes .*the dataset list says \d+ \(sizeBytes\)/),
    });
    expect(gets()).toHaveLength(1);
    expect(await contentDigest(env)).toEqual(emptyDigest);
    await expectNoRunRunning();
  });
});
