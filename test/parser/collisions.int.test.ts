/**
 * dokid collisions between different files (issue 17 point 5): detected, recorded on both
 * file_changes rows, decided by the files and never by job order (the file that already carried the
 * document keeps it; otherwise the first (dataset, path) wins); an existing document is never
 * replaced by another file carrying its dokid.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { pendingParseJobs } from '@lovsync/differ';
import { processParseJob } from '@lovsync/parser';
import { buildTarBz2, fixtureEntries } from '@lovsync/testkit/archive/archive-builder';
import type { ArchiveEntry } from '@lovsync/testkit/archive/archive-entry';
import { startEmulator, type Emulator } from '@lovsync/testkit/emulator/server';
import { createTestEnv, type TestEnv } from '@lovsync/testkit/support/harness';
import { contentDigest, createTestContext, rows } from '@lovsync/testkit/support/context';
import { parsePending, syncAndDiff } from '@lovsync/testkit/support/cycle';
import type { Runtime } from '@lovsync/shared/runtime';

const LOVER = 'gjeldende-lover.tar.bz2';
const HUSLEIE = 'nl/nl-19990326-017.xml';
const BEFORE = 'nl/nl-19990326-016.xml'; // sorts before HUSLEIE
const AFTER = 'nl/nl-19990326-018.xml'; // sorts after HUSLEIE
const ID = 'NL/lov/1999-03-26-17';
const LEDD = 'Ved leie av lokale kan loven fravikes i avtale';
let env: TestEnv;
let emu: Emulator;
let ctx: Runtime;
let archives: string;
let base: ArchiveEntry[];

function variant(path: string, word: string): ArchiveEntry {
  const h = base.find((e) => e.path === HUSLEIE)!;
  return {
    path,
    content: Buffer.from((h.content as Buffer).toString('utf8').replace(LEDD, `${LEDD} ${word}`)),
  };
}

type Order = 'forward' | 'backward' | 'concurrent';
async function cycle(order: Order) {
  const r = await syncAndDiff(ctx, true);
  if (order === 'concurrent') {
    const jobs = await pendingParseJobs(ctx.database.pool, r.runId);
    await Promise.all(jobs.map((j) => processParseJob(ctx, j)));
  } else {
    await parsePending(
      ctx,
      r.runId,
      (a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0) * (order === 'forward' ? 1 : -1),
    );
  }
  return r.runId;
}
async function reset() {
  await env.database.pool.query(
    `TRUNCATE files, file_changes, run_datasets, sync_runs, datasets, manifest_entries, blobs, blob_documents, documents,
       sections, chunks, cross_references, section_changes, document_changes RESTART IDENTITY CASCADE`,
  );
  await rm(join(archives, LOVER), { force: true });
}
const husleieText = async () =>
  (
    await rows<{ text: string }>(
      env,
      `SELECT text FROM sections WHERE document_id = $1 AND section_key = '§1-2'`,
      [ID],
    )
  )[0]!.text;
const collisions = (runId: number) =>
  rows(
    env,
    `SELECT path, collision, parse_status, parse_error, document_id FROM file_changes
     WHERE run_id = $1 AND collision IS NOT NULL ORDER BY path`,
    [runId],
  );

beforeAll(async () => {
  env = await createTestEnv('collisions');
  archives = join(env.tmp, 'archives');
  await mkdir(archives, { recursive: true });
  emu = await startEmulator({ dir: archives });
  ctx = createTestContext(env, { LOVDATA_API_URL: emu.url });
  base = fixtureEntries('gjeldende-lover');
});
afterAll(async () => {
  await ctx?.close();
  await emu?.close();
  await env?.teardown();
});
beforeEach(reset);

describe('two new files with one dokid', () => {
  it('the first (dataset, path) wins in every job order; both rows record the collision', async () => {
    const digests: Record<string, string>[] = [];
    for (const order of ['forward', 'backward', 'concurrent'] as const) {
      await reset();
      await buildTarBz2(
        [...base.filter((e) => e.path !== HUSLEIE), variant(HUSLEIE, 'FIRST'), variant(AFTER, 'SECOND')],
        join(archives, LOVER),
      );
      const r1 = await cycle(order);
      expect(await husleieText(), order).toContain(`${LEDD} FIRST`);
      expect(await rows(env, 'SELECT dataset, path FROM documents WHERE document_id = $1', [ID])).toEqual([
        { dataset: LOVER, path: HUSLEIE },
      ]);
      expect(await collisions(r1), order).toEqual([
        {
          path: HUSLEIE,
          collision: `${LOVER}/${AFTER}`,
          parse_status: 'succeeded',
          parse_error: null,
          document_id: ID,
        },
        {
          path: AFTER,
          collision: `${LOVER}/${HUSLEIE}`,
          parse_status: 'succeeded',
          parse_error: `dokid collision: ${ID} is kept by ${LOVER}/${HUSLEIE}`,
          document_id: ID,
        },
      ]);
      expect(
        await rows(env, 'SELECT change, kind FROM document_changes WHERE run_id = $1 AND document_id = $2', [
          r1,
          ID,
        ]),
      ).toEqual([{ change: 'added', kind: null }]);
      expect(await rows(env, 'SELECT * FROM section_changes')).toEqual([]);
      digests.push(await contentDigest(env, { observedTimes: false }));
    }
    expect(digests[1]).toEqual(digests[0]);
    expect(digests[2]).toEqual(digests[0]);
  });
});

describe('a new file carrying the dokid of an existing document', () => {
  it('never replaces it, even when it sorts first: the document stays as it was, the collision is recorded', async () => {
    await buildTarBz2(base, join(archives, LOVER));
    await cycle('forward');
    const docTables = async () => {
      const d = await contentDigest(env, { observedTimes: false });
      return [d.documents, d.sections, d.chunks, d.cross_references, d.section_changes, d.document_changes];
    };
    const before = await docTables();
    await buildTarBz2([...base, variant(BEFORE, 'INTRUDER')], join(archives, LOVER));
    const r2 = await cycle('forward');
    expect(await docTables()).toEqual(before);
    expect(await husleieText()).not.toContain('INTRUDER');
    expect(await rows(env, 'SELECT * FROM document_changes WHERE run_id = $1', [r2])).toEqual([]);
    expect(await collisions(r2)).toEqual([
      {
        path: BEFORE,
        collision: `${LOVER}/${HUSLEIE}`,
        parse_status: 'succeeded',
        parse_error: `dokid collision: ${ID} is kept by ${LOVER}/${HUSLEIE}`,
        document_id: ID,
      },
    ]);
  });

  it("when the document's own file changes in the same run, its edit wins in every job order", async () => {
    const digests: Record<string, string>[] = [];
    for (const order of ['forward', 'backward', 'concurrent'] as const) {
      await reset();
      await buildTarBz2(base, join(archives, LOVER));
      await cycle('forward');
      await buildTarBz2(
        [...base.filter((e) => e.path !== HUSLEIE), variant(HUSLEIE, 'EDITED'), variant(BEFORE, 'INTRUDER')],
        join(archives, LOVER),
      );
      const r2 = await cycle(order);
      expect(await husleieText(), order).toContain(`${LEDD} EDITED`);
      expect(
        await rows(env, 'SELECT document_id, change, kind FROM document_changes WHERE run_id = $1', [r2]),
        order,
      ).toEqual([{ document_id: ID, change: 'modified', kind: 'editorial' }]);
      expect(
        await rows(env, 'SELECT section_key, change FROM section_changes WHERE run_id = $1', [r2]),
        order,
      ).toEqual([{ section_key: '§1-2', change: 'modified' }]);
      expect((await collisions(r2)).map((c) => (c as { path: string }).path)).toEqual([BEFORE, HUSLEIE]);
      digests.push(await contentDigest(env, { observedTimes: false }));
    }
    expect(digests[1]).toEqual(digests[0]);
    expect(digests[2]).toEqual(digests[0]);
  });
});
