/**
 * Hostile inputs end to end (emulator -> sync -> differ -> parser workers, real Postgres/Redis).
 * Each case asserts the clear error AND that committed data is unchanged. Archive-level cases
 * (traversal, absolute path, symlink, hardlink, device, bzip2 bomb, truncated, corrupt block, HTML
 * page, wrong content type, malformed list JSON, `../x` in the list) are in test/sync/sync.int.test.ts.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildTarBz2, buildZip, fixtureEntries } from '@lovsync/testkit/archive/archive-builder';
import type { ArchiveEntry } from '@lovsync/testkit/archive/archive-entry';
import { bombEntry, entityExpansionEntry } from '@lovsync/testkit/archive/hostile-archives';
import { startEmulator, type Emulator } from '@lovsync/testkit/emulator/server';
import { createTestEnv, type TestEnv } from '@lovsync/testkit/support/harness';
import { rows } from '@lovsync/testkit/support/context';
import { runCycle } from '@lovsync/app/compose/run-cycle';

const DS = 'gjeldende-lover.tar.bz2';
const HUSLEIE = 'nl/nl-19990326-017.xml';
const HUSLEIE_ID = 'NL/lov/1999-03-26-17';
let env: TestEnv;
let emu: Emulator;
let archives: string;

const cycle = (overrides: Record<string, string> = {}) =>
  runCycle(env.config({ LOVDATA_API_URL: emu.url, LOVDATA_DATASET_FILTER: 'gjeldende', ...overrides }), {
    force: true,
    log: env.log,
  });

const replace = (entries: ArchiveEntry[], path: string, content: Buffer | string) =>
  entries.map((e) => (e.path === path ? { ...e, content } : e));

/** Everything a user would see of the documents: must not move when a bad version arrives. */
const documentState = () =>
  rows(
    env,
    `SELECT d.document_id, d.source_hash, d.status, md5(string_agg(s.section_key || s.text_hash, ',' ORDER BY s.section_key)) AS sections
     FROM documents d JOIN sections s USING (document_id) GROUP BY 1, 2, 3 ORDER BY 1`,
  );

beforeAll(async () => {
  env = await createTestEnv('hostile');
  archives = join(env.tmp, 'archives');
  await mkdir(archives, { recursive: true });
  emu = await startEmulator({ dir: archives });
});
afterAll(async () => {
  await emu?.close();
  await env?.teardown();
});
beforeEach(async () => {
  await rm(join(archives, DS), { force: true });
  await rm(join(archives, 'gjeldende-lover.zip'), { force: true });
  await env.database.pool.query(
    `TRUNCATE files, file_changes, run_datasets, sync_runs, datasets, manifest_entries, blobs, blob_documents, documents,
       sections, chunks, cross_references, section_changes, document_changes RESTART IDENTITY CASCADE`,
  );
  // Run ids restart with the database: the queues must start empty too.
  const { createQueues } = await import('@lovsync/shared/queues');
  const { Redis } = await import('ioredis');
  const redis = new Redis(env.env().REDIS_URL!, { maxRetriesPerRequest: null });
  const queues = createQueues(redis, env.prefix);
  for (const q of [queues.sync, queues.diff, queues.parse]) await q.obliterate({ force: true });
  await queues.close();
  redis.disconnect();
  await buildTarBz2(fixtureEntries('gjeldende-lover'), join(archives, DS));
  const first = await cycle();
  expect(first.run.status).toBe('succeeded');
});

describe('documents that must not be parsed', () => {
  const husleie = () => fixtureEntries('gjeldende-lover').find((e) => e.path === HUSLEIE)!.content as Buffer;
  const cases: [string, () => Buffer | string, RegExp][] = [
    [
      'a DTD declaring entities (billion laughs)',
      () => entityExpansionEntry().content as Buffer | string,
      /entit|DOCTYPE|DTD/i,
    ],
    [
      'invalid UTF-8',
      () =>
        Buffer.concat([
          husleie().subarray(0, 5000),
          Buffer.from([0xc3, 0x28, 0xff]),
          husleie().subarray(5000),
        ]),
      /UTF-8/,
    ],
    [
      'malformed XML (cut in the middle of an element)',
      () => husleie().subarray(0, 20_000),
      /malformed|unclosed|Unexpected end/i,
    ],
    [
      'an undefined entity',
      () => husleie().toString('utf8').replace('Ufravikelighet', 'Ufravikelighet&bogus;'),
      /entity/i,
    ],
  ];
  it.each(cases)(
    '%s: the file change fails with a clear error, not retried; the document stays as it was',
    async (_n, content, error) => {
      const before = await documentState();
      await buildTarBz2(replace(fixtureEntries('gjeldende-lover'), HUSLEIE, content()), join(archives, DS));
      const { run } = await cycle();
      // 1 of 1 parse jobs failed: more than PARSE_FAILURE_THRESHOLD, so the run is failed.
      expect(run).toMatchObject({ status: 'failed', parseFailed: 1, parseTotal: 1 });
      const [fc] = await rows<{ parse_status: string; parse_error: string; path: string }>(
        env,
        'SELECT path, parse_status, parse_error FROM file_changes WHERE run_id = $1',
        [run.id],
      );
      expect(fc).toMatchObject({ path: HUSLEIE, parse_status: 'failed' });
      expect(fc!.parse_error).toMatch(error);
      expect(await documentState()).toEqual(before);
      expect(await rows(env, 'SELECT * FROM section_changes')).toEqual([]);
      expect(await rows(env, `SELECT * FROM document_changes WHERE run_id = $1`, [run.id])).toEqual([]);
    },
  );
});

describe('oversized input', () => {
  it('a zip bomb (entry over MAX_ENTRY_BYTES) is stopped and commits nothing for the dataset', async () => {
    const before = await rows(env, 'SELECT dataset, path, hash, status FROM files ORDER BY 1, 2');
    await buildZip(
      [...fixtureEntries('gjeldende-lover'), bombEntry(64 * 1024 * 1024)],
      join(archives, 'gjeldende-lover.zip'),
    );
    const { run, datasets } = await cycle({ MAX_ENTRY_BYTES: String(16 * 1024 * 1024) });
    const zip = datasets.find((d) => d.dataset === 'gjeldende-lover.zip')!;
    expect(zip).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/larger than 16777216 bytes.*MAX_ENTRY_BYTES/),
    });
    expect(run.status).toBe('partial');
    expect(await rows(env, 'SELECT dataset, path, hash, status FROM files WHERE dataset = $1', [DS])).toEqual(
      before.map((f) => ({ ...f, status: 'unchanged' })),
    );
    expect(await rows(env, `SELECT * FROM files WHERE dataset = 'gjeldende-lover.zip'`)).toEqual([]);
  });

  it('a 50 MB single XML document is parsed (bounded memory, no lost job lock)', async () => {
    const xml = husleieXml();
    // The whole body of <main> repeated: balanced XML, 93 legalArticles per copy.
    const start = xml.indexOf('>', xml.indexOf('<main')) + 1;
    const end = xml.lastIndexOf('</main>');
    const articles = xml.slice(start, end);
    const copies = Math.ceil((50 * 1024 * 1024) / articles.length);
    const big = xml.slice(0, start) + articles.repeat(copies) + xml.slice(end);
    expect(big.length).toBeGreaterThan(50 * 1024 * 1024);
    await buildTarBz2(replace(fixtureEntries('gjeldende-lover'), HUSLEIE, big), join(archives, DS));
    const { run } = await cycle();
    const errs = await rows(env, 'SELECT parse_error FROM file_changes WHERE run_id = $1', [run.id]);
    expect(errs).toEqual([{ parse_error: null }]);
    expect(run).toMatchObject({ status: 'succeeded', parseSucceeded: 1 });
    const [n] = await rows<{ n: number }>(
      env,
      `SELECT count(*)::int AS n FROM sections WHERE document_id = $1 AND kind = 'article'`,
      [HUSLEIE_ID],
    );
    expect(n!.n).toBe(93 * copies);
  }, 120_000);
});

function husleieXml(): string {
  return (fixtureEntries('gjeldende-lover').find((e) => e.path === HUSLEIE)!.content as Buffer).toString(
    'utf8',
  );
}
