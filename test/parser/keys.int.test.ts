/**
 * Stable section keys end to end (issue 12 point 2, key normalisation in the extractor): a § whose
 * data-name and number switch between U+2011 NON-BREAKING HYPHEN and `-` across releases keeps its
 * key: no added/removed section_changes, either way; the raw data-name is stored in sections.data_name.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildTarBz2, fixtureEntries } from '@lovsync/testkit/archive/archive-builder';
import type { ArchiveEntry } from '@lovsync/testkit/archive/archive-entry';
import { startEmulator, type Emulator } from '@lovsync/testkit/emulator/server';
import { createTestEnv, type TestEnv } from '@lovsync/testkit/support/harness';
import { createTestContext, rows } from '@lovsync/testkit/support/context';
import { parsePending, syncAndDiff } from '@lovsync/testkit/support/cycle';
import type { Runtime } from '@lovsync/shared/runtime';

const LOVER = 'gjeldende-lover.tar.bz2';
const HUSLEIE = 'nl/nl-19990326-017.xml';
const ID = 'NL/lov/1999-03-26-17';
let env: TestEnv;
let emu: Emulator;
let ctx: Runtime;
let archives: string;

function withHyphen(entries: ArchiveEntry[], hyphen: string): ArchiveEntry[] {
  return entries.map((e) =>
    e.path === HUSLEIE
      ? {
          ...e,
          content: Buffer.from(
            (e.content as Buffer)
              .toString('utf8')
              .replace('data-name="§1-2"', `data-name="§1${hyphen}2"`)
              .replace(
                '<span class="legalArticleValue">§ 1-2</span>',
                `<span class="legalArticleValue">§ 1${hyphen}2</span>`,
              ),
          ),
        }
      : e,
  );
}

beforeAll(async () => {
  env = await createTestEnv('keys');
  archives = join(env.tmp, 'archives');
  await mkdir(archives, { recursive: true });
  emu = await startEmulator({ dir: archives });
  ctx = createTestContext(env, { LOVDATA_API_URL: emu.url });
});
afterAll(async () => {
  await ctx?.close();
  await emu?.close();
  await env?.teardown();
});

it('U+2011 -> "-" -> U+2011 in data-name and number: the § keeps its key, no added/removed rows', async () => {
  const base = fixtureEntries('gjeldende-lover');
  const nb = withHyphen(base, '\u2011');
  expect((nb.find((e) => e.path === HUSLEIE)!.content as Buffer).toString('utf8')).toContain(
    'data-name="§1\u20112"',
  );
  const runs: number[] = [];
  for (const entries of [nb, base, nb]) {
    await buildTarBz2(entries, join(archives, LOVER));
    const r = await syncAndDiff(ctx, true);
    await parsePending(ctx, r.runId);
    runs.push(r.runId);
  }
  for (const run of runs.slice(1)) {
    expect(
      await rows(
        env,
        `SELECT count(*)::int AS n FROM file_changes WHERE run_id = $1 AND change = 'modified'`,
        [run],
      ),
    ).toEqual([{ n: 1 }]);
    const sc = await rows<{ section_key: string; change: string }>(
      env,
      'SELECT section_key, change FROM section_changes WHERE run_id = $1',
      [run],
    );
    expect(sc.filter((s) => s.change !== 'modified')).toEqual([]);
    expect(sc.map((s) => s.section_key)).toEqual(sc.length ? ['§1-2'] : []);
  }
  expect(
    await rows(
      env,
      `SELECT section_key, data_name FROM sections WHERE document_id = $1 AND section_key = '§1-2'`,
      [ID],
    ),
  ).toEqual([{ section_key: '§1-2', data_name: '§1\u20112' }]);
});
