/**
 * Sync service against the Lovdata API emulator over real HTTP, with real Postgres and Redis.
 * Bad inputs tried here: HTML error page with status 200, archive served as text/plain, 500 and 429
 * (retried), a body cut off mid-way (resumed with Range), path traversal, absolute path, symlink,
 * hardlink and device entries, a bzip2 bomb (entry over MAX_ENTRY_BYTES), a truncated archive, a
 * corrupt bzip2 block, a zip with traversal, malformed list JSON, a list entry named `../x`.
 */
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { xxh3 } from '@node-rs/xxhash';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runSync } from '@lovsync/sync';
import { buildTarBz2, buildZip, fixtureEntries } from '@lovsync/testkit/archive/archive-builder';
import { bombEntry, corruptBzip2Block, truncateFile } from '@lovsync/testkit/archive/hostile-archives';
import { startEmulator, type Emulator } from '@lovsync/testkit/emulator/server';
import { createTestEnv, type TestEnv } from '@lovsync/testkit/support/harness';
import { createTestContext, rows } from '@lovsync/testkit/support/context';
import { syncAndDiff } from '@lovsync/testkit/support/cycle';
import type { Runtime } from '@lovsync/shared/runtime';

const DS = 'gjeldende-lover.tar.bz2';
let env: TestEnv;
let emu: Emulator;
let ctx: Runtime;
let archives: string;

async function fileCount(): Promise<number> {
  return Number((await rows<{ n: string }>(env, 'SELECT count(*) AS n FROM files'))[0]!.n);
}

async function resetDb() {
  await env.database.pool.query(
    'TRUNCATE files, file_changes, run_datasets, sync_runs, datasets, manifest_entries, blobs RESTART IDENTITY CASCADE',
  );
  await ctx.queues.diff.obliterate({ force: true });
  await ctx.queues.parse.obliterate({ force: true });
}

beforeAll(async () => {
  env = await createTestEnv('sync');
  archives = join(env.tmp, 'archives');
  await mkdir(archives, { recursive: true });
  emu = await startEmulator({ dir: archives });
  ctx = createTestContext(env, { LOVDATA_API_URL: emu.url, LOVDATA_DATASET_FILTER: 'gjeldende' });
});
afterAll(async () => {
  await ctx?.close();
  await emu?.close();
  await env?.teardown();
});
beforeEach(async () => {
  emu.setFault(null);
  emu.resetRequests();
  await resetDb();
  await buildTarBz2(fixtureEntries('gjeldende-lover'), join(archives, DS));
});

const gets = () => emu.requests.filter((r) => r.url.includes('/get/'));

describe('sync of a real fixture archive', () => {
  it('records every file with hashes equal to an independent XXH3-128 (as xxh128sum prints them), and a second sync with the same lastModified downloads nothing', async () => {
    const first = await syncAndDiff(ctx);
    expect(first.results).toEqual([
      expect.objectContaining({ dataset: DS, outcome: 'manifested', files: 8 }),
    ]);
    const files = await rows<{ path: string; hash: string; status: string }>(
      env,
      'SELECT path, hash, status FROM files ORDER BY path',
    );
    const fixtures = fixtureEntries('gjeldende-lover');
    expect(files.map((f) => f.path)).toEqual(fixtures.map((f) => f.path).sort());
    expect(new Set(files.map((f) => f.status))).toEqual(new Set(['added']));
    // The reference is an independent XXH3-128 (Rust xxhash-rust via @node-rs/xxhash; the sync hashes
    // with hash-wasm's C build), so no `xxh128sum` binary is needed.
    const expected = Object.fromEntries(
      fixtures.map((f) => [
        f.path,
        xxh3
          .xxh128(f.content as Buffer)
          .toString(16)
          .padStart(32, '0'),
      ]),
    );
    for (const f of files) expect(f.hash).toBe(expected[f.path]);

    emu.resetRequests();
    const second = await syncAndDiff(ctx);
    expect(second.results[0]!.outcome).toBe('unchanged');
    expect(gets()).toHaveLength(0);
    const changes = await rows(env, 'SELECT * FROM file_changes WHERE run_id = $1', [second.runId]);
    expect(changes).toHaveLength(0);

    emu.resetRequests();
    const forced = await syncAndDiff(ctx, true);
    expect(forced.results[0]!.outcome).toBe('manifested');
    expect(gets()).toHaveLength(1);
    expect(gets()[0]!.headers['if-none-match']).toBeUndefined();
    expect(await rows(env, 'SELECT * FROM file_changes WHERE run_id = $1', [forced.runId])).toHaveLength(0);
  });

  it('a 304 to the conditional request counts as unchanged', async () => {
    await syncAndDiff(ctx);
    // lastModified moved in the list, but the archive's ETag did not: the conditional GET answers 304.
    await env.database.pool.query(`UPDATE datasets SET last_modified = '2020-01-01T00:00:00Z'`);
    emu.resetRequests();
    const r = await runSync(ctx, { trigger: 'manual', force: false, requestedAt: new Date().toISOString() });
    expect(gets()[0]!.headers['if-none-match']).toBeTruthy();
    expect(gets()[0]!.status).toBe(304);
    expect(r.results[0]!.outcome).toBe('unchanged');
  });

  it('resumes a body cut off mid-way with Range', async () => {
    // A bigger archive, so that the part before the cut has reached the client when the socket dies.
    await buildTarBz2(
      [...fixtureEntries('gjeldende-lover'), ...fixtureEntries('lovtidend-avd1-2025')],
      join(archives, DS),
    );
    emu.setFault({ kind: 'truncate', afterBytes: 300_000, count: 1, path: 'get' });
    const r = await syncAndDiff(ctx);
    expect(r.results[0]!.outcome).toBe('manifested');
    const g = gets();
    expect(g.length).toBe(2);
    expect(g[1]!.headers.range).toMatch(/^bytes=\d+-$/);
    expect(g[1]!.status).toBe(206);
    expect(await fileCount()).toBe(21);
  });

  it('retries 500 and 429 (honouring Retry-After) and then succeeds', async () => {
    emu.setFault({ kind: 'status', status: 500, count: 2, path: 'get' });
    const r = await syncAndDiff(ctx);
    expect(r.results[0]!.outcome).toBe('manifested');
    expect(gets().map((g) => g.status)).toEqual([500, 500, 200]);
    await resetDb();
    emu.resetRequests();
    emu.setFault({ kind: 'rate-limit', retryAfterSeconds: 1, count: 1, path: 'list' });
    const t0 = Date.now();
    const r2 = await syncAndDiff(ctx);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
    expect(r2.results[0]!.outcome).toBe('manifested');
  });

  it('an HTML page (status 200) or a wrong content type fails the dataset clearly and commits nothing', async () => {
    emu.setFault({ kind: 'html', path: 'get' });
    const r = await syncAndDiff(ctx);
    expect(r.results[0]).toMatchObject({
      outcome: 'failed',
      error: expect.stringMatching(/text\/html.*not an archive/),
    });
    expect(await fileCount()).toBe(0);
    emu.setFault({ kind: 'wrong-type', path: 'get' });
    const r2 = await syncAndDiff(ctx);
    expect(r2.results[0]).toMatchObject({ outcome: 'failed', error: expect.stringMatching(/text\/plain/) });
    const ds = await rows(env, 'SELECT * FROM datasets');
    expect(ds).toHaveLength(0);
  });

  it('a retried sync job keeps the failure of a dataset whose download already had its attempts (no second round of retries)', async () => {
    emu.setFault({ kind: 'status', status: 500, path: 'get' });
    const first = await runSync(ctx, {
      trigger: 'manual',
      force: false,
      requestedAt: new Date().toISOString(),
    });
    expect(first.results[0]).toMatchObject({ outcome: 'failed', error: expect.stringMatching(/500/) });
    expect(gets()).toHaveLength(5);
    // The job's process died after the dataset failed: BullMQ hands the job (with its runId) to
    // another attempt while the run is still running.
    await env.database.pool.query(
      `UPDATE sync_runs SET status = 'running', finished_at = NULL, sync_finished_at = NULL WHERE id = $1`,
      [first.runId],
    );
    emu.setFault(null);
    emu.resetRequests();
    const retried = await runSync(ctx, {
      trigger: 'manual',
      force: false,
      requestedAt: new Date().toISOString(),
      runId: first.runId,
    });
    expect(retried.results[0]).toMatchObject({ outcome: 'failed', error: expect.stringMatching(/500/) });
    expect(gets()).toHaveLength(0);
  });

  it('malformed list JSON and an absurd dataset name give clear errors', async () => {
    emu.setFault({ kind: 'malformed-json' });
    await expect(
      runSync(ctx, { trigger: 'manual', force: false, requestedAt: new Date().toISOString() }),
    ).rejects.toThrow(/not valid JSON/);
    const [run] = await rows<{ status: string; error: string }>(
      env,
      'SELECT status, error FROM sync_runs ORDER BY id DESC LIMIT 1',
    );
    expect(run).toMatchObject({ status: 'failed', error: expect.stringMatching(/not valid JSON/) });
    emu.setFault({
      kind: 'list-override',
      body: [{ filename: '../gjeldende-x.tar.bz2', lastModified: '2025-01-01T00:00:00Z', sizeBytes: '1' }],
    });
    await expect(
      runSync(ctx, { trigger: 'manual', force: false, requestedAt: new Date().toISOString() }),
    ).resolves.toMatchObject({
      refusedListEntries: [
        expect.objectContaining({ reason: expect.stringMatching(/refused dataset file name/) }),
      ],
      results: [],
    });
    expect(gets()).toHaveLength(0);
    expect(await fileCount()).toBe(0);
  });
});

describe('datasets that vanish from the list', () => {
  it('get a diff with an empty manifest: all their files become removed, the others are untouched', async () => {
    const lti = join(archives, 'gjeldende-lovtidend.tar.bz2');
    await buildTarBz2(fixtureEntries('lovtidend-avd1-2025'), lti);
    await syncAndDiff(ctx);
    expect(await fileCount()).toBe(8 + 13);
    await rm(lti);
    const r = await syncAndDiff(ctx, true);
    expect(r.vanished).toEqual(['gjeldende-lovtidend.tar.bz2']);
    const st = await rows<{ dataset: string; status: string; n: number }>(
      env,
      'SELECT dataset, status, count(*)::int AS n FROM files GROUP BY 1, 2 ORDER BY 1, 2',
    );
    expect(st).toEqual([
      { dataset: 'gjeldende-lover.tar.bz2', status: 'unchanged', n: 8 },
      { dataset: 'gjeldende-lovtidend.tar.bz2', status: 'removed', n: 13 },
    ]);
    const changes = await rows<{ change: string; n: number }>(
      env,
      'SELECT change, count(*)::int AS n FROM file_changes WHERE run_id = $1 GROUP BY 1',
      [r.runId],
    );
    expect(changes).toEqual([{ change: 'removed', n: 13 }]);
  });

  it('an empty list never marks every known dataset removed', async () => {
    await syncAndDiff(ctx);
    emu.setFault({ kind: 'list-override', body: [] });
    await expect(
      runSync(ctx, { trigger: 'manual', force: false, requestedAt: new Date().toISOString() }),
    ).rejects.toThrow(/refusing to mark 1 known dataset\(s\) removed/);
    expect(await rows(env, `SELECT * FROM files WHERE status = 'removed'`)).toEqual([]);
  });
});

describe('hostile archives are refused with nothing committed for the dataset', () => {
  const good = () => fixtureEntries('gjeldende-lover');
  const cases: [string, () => Promise<void>, RegExp][] = [
    [
      'path traversal',
      () =>
        buildTarBz2([...good(), { path: '../evil.xml', content: '<x/>' }], join(archives, DS)).then(
          () => undefined,
        ),
      /escapes its directory/,
    ],
    [
      'absolute path',
      () =>
        buildTarBz2([...good(), { path: '/etc/evil.xml', content: '<x/>' }], join(archives, DS)).then(
          () => undefined,
        ),
      /absolute path/,
    ],
    [
      'symlink',
      () =>
        buildTarBz2(
          [...good(), { path: 'nl/link.xml', type: 'symlink', linkname: '/etc/passwd' }],
          join(archives, DS),
        ).then(() => undefined),
      /symlink entries are not allowed/,
    ],
    [
      'hardlink',
      () =>
        buildTarBz2(
          [...good(), { path: 'nl/hard.xml', type: 'link', linkname: 'nl/nl-19990326-017.xml' }],
          join(archives, DS),
        ).then(() => undefined),
      /link entries are not allowed/,
    ],
    [
      'device',
      () =>
        buildTarBz2([...good(), { path: 'nl/dev.xml', type: 'character-device' }], join(archives, DS)).then(
          () => undefined,
        ),
      /character-device entries/,
    ],
    [
      'bzip2 bomb',
      () => buildTarBz2([...good(), bombEntry(64 * 1024 * 1024)], join(archives, DS)).then(() => undefined),
      /larger than .*MAX_ENTRY_BYTES/,
    ],
    [
      'truncated archive',
      async () => {
        const f = join(archives, DS);
        await buildTarBz2(good(), f);
        await truncateFile(f, 50_000);
      },
      /corrupt or truncated/,
    ],
    [
      'corrupt bzip2 block',
      async () => {
        const f = join(archives, DS);
        await buildTarBz2(good(), f);
        await corruptBzip2Block(f);
      },
      /corrupt or truncated/,
    ],
  ];
  it.each(cases)('%s', async (_name, build, error) => {
    // A good first sync, then the hostile version: the committed state must stay the first one.
    await syncAndDiff(ctx);
    const before = await rows(env, 'SELECT dataset, path, hash, status FROM files ORDER BY path');
    const dsBefore = await rows(env, 'SELECT name, last_modified, etag FROM datasets');
    await build();
    const c2 = createTestContext(env, {
      LOVDATA_API_URL: emu.url,
      LOVDATA_DATASET_FILTER: 'gjeldende',
      MAX_ENTRY_BYTES: String(16 * 1024 * 1024),
    });
    try {
      const r = await syncAndDiff(c2, true);
      expect(r.results[0]).toMatchObject({ outcome: 'failed', error: expect.stringMatching(error) });
      const [run] = await rows<{ error: string; status: string }>(
        env,
        'SELECT error, status FROM sync_runs WHERE id = $1',
        [r.runId],
      );
      expect(run!.error).toMatch(error);
      expect(run!.status).toBe('failed');
    } finally {
      await c2.close();
    }
    expect(await rows(env, 'SELECT dataset, path, hash, status FROM files ORDER BY path')).toEqual(before);
    expect(await rows(env, 'SELECT name, last_modified, etag FROM datasets')).toEqual(dsBefore);
    expect(await rows(env, 'SELECT * FROM manifest_entries')).toHaveLength(0);
  });

  it('a zip with a traversal entry is refused too', async () => {
    await buildZip(
      [...good(), { path: '../evil.xml', content: '<x/>' }],
      join(archives, 'gjeldende-zip.zip'),
    );
    const r = await syncAndDiff(ctx);
    const zip = r.results.find((x) => x.dataset === 'gjeldende-zip.zip')!;
    expect(zip).toMatchObject({ outcome: 'failed', error: expect.stringMatching(/escapes its directory/) });
    expect(await rows(env, `SELECT * FROM files WHERE dataset = 'gjeldende-zip.zip'`)).toHaveLength(0);
    await rm(join(archives, 'gjeldende-zip.zip'));
  });
});

describe('formats and decoders', () => {
  it('a zip archive gives the same manifest as the tar.bz2, and the pure-JS bzip2 decoder agrees with the child process', async () => {
    await syncAndDiff(ctx);
    const tarFiles = await rows<{ path: string; hash: string }>(
      env,
      'SELECT path, hash FROM files ORDER BY path',
    );
    await resetDb();
    await rm(join(archives, DS));
    await buildZip(fixtureEntries('gjeldende-lover'), join(archives, 'gjeldende-lover.zip'));
    await syncAndDiff(ctx);
    expect(await rows(env, 'SELECT path, hash FROM files ORDER BY path')).toEqual(tarFiles);
    await rm(join(archives, 'gjeldende-lover.zip'));
    await resetDb();
    await buildTarBz2(fixtureEntries('gjeldende-lover'), join(archives, DS));
    const js = createTestContext(env, {
      LOVDATA_API_URL: emu.url,
      LOVDATA_DATASET_FILTER: 'gjeldende',
      BZIP2_DECODER: 'js',
    });
    try {
      await syncAndDiff(js);
    } finally {
      await js.close();
    }
    expect(await rows(env, 'SELECT path, hash FROM files ORDER BY path')).toEqual(tarFiles);
  });

  it("EXTRACT_DIR mirrors the files in lovlig's layout", async () => {
    const extractDir = join(env.tmp, 'extract');
    const c = createTestContext(env, {
      LOVDATA_API_URL: emu.url,
      LOVDATA_DATASET_FILTER: 'gjeldende',
      EXTRACT_DIR: extractDir,
    });
    try {
      await syncAndDiff(c);
    } finally {
      await c.close();
    }
    const f = fixtureEntries('gjeldende-lover')[0]!;
    expect(await readFile(join(extractDir, 'gjeldende-lover', f.path))).toEqual(f.content as Buffer);
  });
});
