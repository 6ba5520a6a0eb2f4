/**
 * Language twins (issue 12 point 1): the real bokmål and nynorsk Grunnloven (same dokid
 * NL/lov/1814-05-17) are two documents, NL/lov/1814-05-17 and NL/lov/1814-05-17@nn, pointing at
 * each other, with the same database whichever is parsed first (or both at once); removing one
 * tombstones only that one.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildTarBz2, fixtureEntries } from '@lovsync/testkit/archive/archive-builder';
import type { ArchiveEntry } from '@lovsync/testkit/archive/archive-entry';
import { startEmulator, type Emulator } from '@lovsync/testkit/emulator/server';
import { createTestEnv, type TestEnv } from '@lovsync/testkit/support/harness';
import { contentDigest, createTestContext, rows } from '@lovsync/testkit/support/context';
import { parsePending, syncAndDiff } from '@lovsync/testkit/support/cycle';
import { corpusAvailable, corpusEntries } from '@lovsync/testkit/support/corpus';
import { pendingParseJobs } from '@lovsync/differ';
import { processParseJob } from '@lovsync/parser';
import type { Runtime } from '@lovsync/shared/runtime';

const LOVER = 'gjeldende-lover.tar.bz2';
const NB = 'nl/nl-18140517-000.xml';
const NN = 'nl/nl-18140517-000-nn.xml';
let env: TestEnv;
let emu: Emulator;
let ctx: Runtime;
let archives: string;
let twins: ArchiveEntry[];

/** contentDigest plus the twin columns. */
async function digest() {
  const extra = await rows(
    env,
    `SELECT md5(string_agg(t::text, '|')) AS d FROM (
       SELECT document_id, dokid, language, twin_id, status, extractor_version FROM documents ORDER BY 1) t`,
  );
  return { ...(await contentDigest(env, { observedTimes: false })), twins: String(extra[0]!.d) };
}

async function cycle(order: 'nb-first' | 'nn-first' | 'concurrent') {
  const r = await syncAndDiff(ctx, true);
  if (order === 'concurrent') {
    const jobs = await pendingParseJobs(ctx.database.pool, r.runId);
    await Promise.all(jobs.map((j) => processParseJob(ctx, j)));
  } else {
    const first = order === 'nb-first' ? NB : NN;
    await parsePending(ctx, r.runId, (a, b) => (a.path === first ? -1 : 0) - (b.path === first ? -1 : 0));
  }
  return r.runId;
}

beforeAll(async () => {
  env = await createTestEnv('twins');
  archives = join(env.tmp, 'archives');
  await mkdir(archives, { recursive: true });
  emu = await startEmulator({ dir: archives });
  ctx = createTestContext(env, { LOVDATA_API_URL: emu.url });
  twins = corpusEntries(LOVER, join(env.tmp, 'corpus'), [NB, NN]);
});
afterAll(async () => {
  await ctx?.close();
  await emu?.close();
  await env?.teardown();
});
beforeEach(async () => {
  await env.database.pool.query(
    `TRUNCATE files, file_changes, run_datasets, sync_runs, datasets, manifest_entries, blobs, blob_documents, documents,
       sections, chunks, cross_references, section_changes, document_changes RESTART IDENTITY CASCADE`,
  );
  await rm(join(archives, LOVER), { force: true });
});

describe.runIf(corpusAvailable())('Grunnloven in bokmål and nynorsk', () => {
  it('two documents with their language, pointing at each other, identical database for either job order', async () => {
    expect(twins.map((t) => t.path).sort()).toEqual([NN, NB]);
    const digests: Record<string, unknown>[] = [];
    for (const order of ['nb-first', 'nn-first', 'concurrent'] as const) {
      await env.database.pool.query(
        `TRUNCATE files, file_changes, run_datasets, sync_runs, datasets, manifest_entries, blobs, blob_documents,
           documents, sections, chunks, cross_references, section_changes, document_changes RESTART IDENTITY CASCADE`,
      );
      await buildTarBz2([...fixtureEntries('gjeldende-lover'), ...twins], join(archives, LOVER));
      await cycle(order);
      expect(
        await rows(
          env,
          `SELECT document_id, dokid, language, twin_id, status, title FROM documents WHERE dokid = 'NL/lov/1814-05-17' ORDER BY 1`,
        ),
        order,
      ).toEqual([
        {
          document_id: 'NL/lov/1814-05-17',
          dokid: 'NL/lov/1814-05-17',
          language: 'no',
          twin_id: 'NL/lov/1814-05-17@nn',
          status: 'active',
          title: 'Kongeriket Norges Grunnlov',
        },
        {
          document_id: 'NL/lov/1814-05-17@nn',
          dokid: 'NL/lov/1814-05-17',
          language: 'nn',
          twin_id: 'NL/lov/1814-05-17',
          status: 'active',
          title: 'Kongeriket Noregs grunnlov',
        },
      ]);
      const files = await rows<{ n: number }>(env, 'SELECT count(*)::int AS n FROM files');
      const docs = await rows<{ n: number }>(env, 'SELECT count(*)::int AS n FROM documents');
      expect(docs[0]!.n).toBe(files[0]!.n);
      // Each twin has its own sections and chunks (chunk ids carry the storage id).
      const perTwin = await rows(
        env,
        `SELECT document_id, count(*)::int AS n FROM chunks WHERE document_id LIKE 'NL/lov/1814-05-17%'
         GROUP BY 1 ORDER BY 1`,
      );
      expect(perTwin).toHaveLength(2);
      expect(await rows(env, `SELECT * FROM section_changes`)).toEqual([]);
      expect(await rows(env, `SELECT * FROM file_changes WHERE collision IS NOT NULL`)).toEqual([]);
      digests.push(await digest());
    }
    expect(digests[1]).toEqual(digests[0]);
    expect(digests[2]).toEqual(digests[0]);
  });

  it('removing one twin tombstones only that one; bringing it back revives it', async () => {
    const lover = [...fixtureEntries('gjeldende-lover'), ...twins];
    await buildTarBz2(lover, join(archives, LOVER));
    await cycle('nb-first');
    const nbBefore = await rows(
      env,
      `SELECT * FROM sections WHERE document_id = 'NL/lov/1814-05-17' ORDER BY ord`,
    );

    await buildTarBz2(
      lover.filter((e) => e.path !== NN),
      join(archives, LOVER),
    );
    const r2 = await cycle('nb-first');
    expect(
      await rows(
        env,
        `SELECT document_id, status, twin_id FROM documents WHERE dokid = 'NL/lov/1814-05-17' ORDER BY 1`,
      ),
    ).toEqual([
      { document_id: 'NL/lov/1814-05-17', status: 'active', twin_id: null },
      { document_id: 'NL/lov/1814-05-17@nn', status: 'removed', twin_id: null },
    ]);
    expect(
      await rows(env, 'SELECT document_id, change FROM document_changes WHERE run_id = $1', [r2]),
    ).toEqual([{ document_id: 'NL/lov/1814-05-17@nn', change: 'removed' }]);
    expect(
      await rows(env, `SELECT * FROM sections WHERE document_id = 'NL/lov/1814-05-17' ORDER BY ord`),
    ).toEqual(nbBefore);
    expect(await rows(env, `SELECT 1 FROM chunks WHERE document_id = 'NL/lov/1814-05-17@nn'`)).toEqual([]);
    expect(
      (
        await rows<{ n: number }>(
          env,
          `SELECT count(*)::int AS n FROM chunks WHERE document_id = 'NL/lov/1814-05-17'`,
        )
      )[0]!.n,
    ).toBeGreaterThan(50);

    await buildTarBz2(lover, join(archives, LOVER));
    const r3 = await cycle('nn-first');
    expect(
      await rows(
        env,
        `SELECT document_id, status, twin_id FROM documents WHERE dokid = 'NL/lov/1814-05-17' ORDER BY 1`,
      ),
    ).toEqual([
      { document_id: 'NL/lov/1814-05-17', status: 'active', twin_id: 'NL/lov/1814-05-17@nn' },
      { document_id: 'NL/lov/1814-05-17@nn', status: 'active', twin_id: 'NL/lov/1814-05-17' },
    ]);
    expect(
      await rows(env, 'SELECT document_id, change FROM document_changes WHERE run_id = $1', [r3]),
    ).toEqual([{ document_id: 'NL/lov/1814-05-17@nn', change: 'added' }]);
  });
});
