/**
 * `lovsync reparse` (issue 12 point 4): after import-lovlig of a lovlig state file the first
 * `reparse --all` fills the document tables; a change caused only by the extractor (simulated by
 * stored sections and metadata an older extractor would have derived) is recorded as
 * document_changes kind `reparse` and never as amendment/editorial, without section_changes;
 * selectors and refusals leave committed data untouched.
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { getRun } from '@lovsync/shared/db';
import { hashBytes } from '@lovsync/shared/hash';
import { startReparse } from '@lovsync/differ';
import { buildTarBz2, fixtureEntries } from '@lovsync/testkit/archive/archive-builder';
import { startEmulator, type Emulator } from '@lovsync/testkit/emulator/server';
import { createTestEnv, type TestEnv } from '@lovsync/testkit/support/harness';
import { contentDigest, createTestContext, rows } from '@lovsync/testkit/support/context';
import { parsePending, syncAndDiff } from '@lovsync/testkit/support/cycle';
import type { Runtime } from '@lovsync/shared/runtime';
import { EXTRACTOR_VERSION } from '../../services/parser/src/document-ids.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = 'apps/lovsync/bin/lovsync.js';
const exec = promisify(execFile);
const DATASETS = {
  'gjeldende-lover.tar.bz2': 'gjeldende-lover',
  'lovtidend-avd1-2025.tar.bz2': 'lovtidend-avd1-2025',
} as const;
let env: TestEnv;
let emu: Emulator;
let ctx: Runtime;
let archives: string;

async function lovsync(args: string[]) {
  try {
    const r = await exec(process.execPath, [CLI, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env.env({ LOVDATA_API_URL: emu.url }) },
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
const count = async (sql: string, params: unknown[] = []) =>
  (await rows<{ n: number }>(env, sql, params))[0]!.n;

beforeAll(async () => {
  env = await createTestEnv('reparse');
  archives = join(env.tmp, 'archives');
  await mkdir(archives, { recursive: true });
  for (const [archive, fixture] of Object.entries(DATASETS))
    await buildTarBz2(fixtureEntries(fixture), join(archives, archive));
  emu = await startEmulator({ dir: archives });
  ctx = createTestContext(env, { LOVDATA_API_URL: emu.url });
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
});

describe('after import-lovlig', () => {
  it('the first reparse --all (the CLI, through the parse queue) fills the document tables; nothing is an amendment', async () => {
    // A lovlig state.json as lovlig writes it: files keyed "<dataset dir>/<path>", XXH3-128 in `sha256`.
    const state = { raw_datasets: {} as Record<string, unknown> };
    let total = 0;
    for (const [archive, fixture] of Object.entries(DATASETS)) {
      const files: Record<string, unknown> = {};
      for (const e of fixtureEntries(fixture)) {
        const content = e.content as Buffer;
        files[`${fixture}/${e.path}`] = {
          path: e.path,
          size: content.length,
          sha256: await hashBytes(content),
          status: 'unchanged',
          last_changed: '2025-10-28T02:31:00Z',
        };
        total++;
      }
      state.raw_datasets[archive] = { filename: archive, last_modified: '2025-10-28T02:31:00Z', files };
    }
    const file = join(env.tmp, 'state.json');
    await writeFile(file, JSON.stringify(state));
    expect((await lovsync(['import-lovlig', file])).code).toBe(0);
    // No content is stored yet: reparse says what to do and writes nothing.
    const early = await lovsync(['reparse', '--all']);
    expect(early.code).toBe(1);
    expect(early.stderr).toMatch(/no stored content for .*run `lovsync run --force` once/);
    expect(await count('SELECT count(*)::int AS n FROM sync_runs')).toBe(0);

    const run = await lovsync(['run', '--force', '--json']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).run).toMatchObject({
      filesAdded: 0,
      filesModified: 0,
      filesUnchanged: total,
    });
    expect(await count('SELECT count(*)::int AS n FROM documents')).toBe(0);

    const r = await lovsync(['reparse', '--all', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.run).toMatchObject({
      trigger: 'reparse',
      status: 'succeeded',
      parseTotal: total,
      parseSucceeded: total,
    });
    expect(out.documents).toEqual({ 'added/reparse': total });
    expect(await count(`SELECT count(*)::int AS n FROM documents WHERE status = 'active'`)).toBe(total);
    expect(
      await count('SELECT count(*)::int AS n FROM documents WHERE extractor_version = $1', [
        EXTRACTOR_VERSION,
      ]),
    ).toBe(total);
    expect(await count('SELECT count(*)::int AS n FROM chunks')).toBeGreaterThan(500);
    expect(await count('SELECT count(*)::int AS n FROM section_changes')).toBe(0);
    expect(
      await count(`SELECT count(*)::int AS n FROM document_changes WHERE kind IS DISTINCT FROM 'reparse'`),
    ).toBe(0);
  }, 240_000); // five CLI processes (each a tsx start-up) on a shared 2-core machine
});

describe('after an extractor change', () => {
  it('reparse restores the derived tables and records kind reparse only: no amendment/editorial, no section_changes', async () => {
    const r1 = await syncAndDiff(ctx, true);
    await parsePending(ctx, r1.runId);
    const fresh = await contentDigest(env);
    // What an older extractor would have stored: other section texts (list-marker spacing), a § it
    // missed, a § it keyed differently, and header fields it read differently.
    await env.database.pool.query(`
      UPDATE sections SET text = replace(text, '. ', '.'), text_hash = md5(text)
        WHERE document_id IN ('NL/lov/1999-03-26-17', 'LTI/forskrift/2025-01-09-20') AND text LIKE '%. %';
      DELETE FROM sections WHERE document_id = 'NL/lov/1999-03-26-17' AND section_key = '§1-3';
      UPDATE sections SET section_key = replace(section_key, '-', '‑')
        WHERE document_id = 'LTI/forskrift/2025-01-09-20' AND section_key = '§1-2';
      UPDATE documents SET last_changed_by = 'lov/1999-01-01-1 fra 1999-01-01', title = title || ' (old)'
        WHERE document_id = 'NL/lov/1999-03-26-17';
      UPDATE documents SET extractor_version = 'older';
      DELETE FROM chunks WHERE document_id = 'NL/lov/1999-03-26-17';`);
    const { runId } = await startReparse(ctx, { all: true });
    await parsePending(ctx, runId);
    expect((await getRun(env.database.pool, runId))!).toMatchObject({
      status: 'succeeded',
      trigger: 'reparse',
    });
    expect(
      await rows(env, 'SELECT document_id, change, kind FROM document_changes WHERE run_id = $1 ORDER BY 1', [
        runId,
      ]),
    ).toEqual([
      { document_id: 'LTI/forskrift/2025-01-09-20', change: 'modified', kind: 'reparse' },
      { document_id: 'NL/lov/1999-03-26-17', change: 'modified', kind: 'reparse' },
    ]);
    expect(await rows(env, 'SELECT * FROM section_changes WHERE run_id = $1', [runId])).toEqual([]);
    const after = await contentDigest(env);
    for (const t of ['documents', 'sections', 'chunks', 'cross_references'] as const) {
      if (t === 'documents') continue; // last_run_id moved to the reparse run
      expect(after[t], t).toBe(fresh[t]);
    }
    expect(
      await count('SELECT count(*)::int AS n FROM documents WHERE extractor_version = $1', [
        EXTRACTOR_VERSION,
      ]),
    ).toBe(21);
    // A second reparse with nothing to change writes no change rows at all.
    const again = await startReparse(ctx, { all: true });
    await parsePending(ctx, again.runId);
    expect(await rows(env, 'SELECT * FROM document_changes WHERE run_id = $1', [again.runId])).toEqual([]);
  });

  it("a § whose text only the extractor moved gets a history version with origin 'reparse', never 'changed'", async () => {
    const r1 = await syncAndDiff(ctx, true);
    await parsePending(ctx, r1.runId);
    const doc = 'NL/lov/1999-03-26-17';
    // What an older extractor's history holds: other text hashes for three §§ (their current versions).
    const keys = (
      await rows<{ section_key: string }>(
        env,
        `SELECT section_key FROM section_versions WHERE document_id = $1 AND valid_to_run IS NULL
         ORDER BY section_key LIMIT 3`,
        [doc],
      )
    ).map((r) => r.section_key);
    expect(keys).toHaveLength(3);
    await env.database.pool.query(
      `UPDATE section_versions SET text_hash = md5(text_hash)
       WHERE document_id = $1 AND valid_to_run IS NULL AND section_key = ANY($2)`,
      [doc, keys],
    );
    await env.database.pool.query(`UPDATE documents SET extractor_version = 'older' WHERE document_id = $1`, [
      doc,
    ]);
    const { runId } = await startReparse(ctx, { document: doc });
    await parsePending(ctx, runId);
    const opened = await rows<{ section_key: string; origin: string; in_force_source: string | null }>(
      env,
      `SELECT section_key, origin, in_force_source FROM section_versions
       WHERE document_id = $1 AND valid_from_run = $2 ORDER BY section_key`,
      [doc, runId],
    );
    expect(opened.map((r) => r.section_key)).toEqual(keys);
    expect(opened.every((r) => r.origin === 'reparse')).toBe(true);
    // No amending act is attributed from the document's metadata to a re-extraction.
    expect(opened.some((r) => r.in_force_source === 'document')).toBe(false);
    // The versions it replaced are closed at the reparse run; nothing else of the history moved.
    expect(
      await count(
        `SELECT count(*)::int AS n FROM section_versions WHERE document_id = $1 AND valid_to_run = $2`,
        [doc, runId],
      ),
    ).toBe(3);
    expect(
      await count(
        `SELECT count(*)::int AS n FROM section_versions WHERE valid_from_run = $1 AND origin <> 'reparse'`,
        [runId],
      ),
    ).toBe(0);
    // The change tables say nothing changed: the derived rows are what they were.
    expect(await rows(env, 'SELECT * FROM document_changes WHERE run_id = $1', [runId])).toEqual([]);
  });

  it('--dataset and --document select their files; bad selectors and a running run are refused and write nothing', async () => {
    const r1 = await syncAndDiff(ctx, true);
    await parsePending(ctx, r1.runId);
    const ds = await startReparse(ctx, { dataset: 'lovtidend-avd1-2025.tar.bz2' });
    expect(ds.files).toBe(
      await count(`SELECT count(*)::int AS n FROM files WHERE dataset = 'lovtidend-avd1-2025.tar.bz2'`),
    );
    await parsePending(ctx, ds.runId);
    const doc = await startReparse(ctx, { document: 'NL/lov/1999-03-26-17' });
    expect(doc.files).toBe(1);
    expect(await rows(env, 'SELECT path, change FROM file_changes WHERE run_id = $1', [doc.runId])).toEqual([
      { path: 'nl/nl-19990326-017.xml', change: 'reparse' },
    ]);
    await parsePending(ctx, doc.runId);
    const before = await contentDigest(env);
    await expect(startReparse(ctx, { dataset: 'nope.tar.bz2' })).rejects.toThrow(
      /dataset nope.tar.bz2 has no current files/,
    );
    await expect(startReparse(ctx, { document: 'NL/lov/1800-01-01' })).rejects.toThrow(
      /no current file carries document NL\/lov\/1800-01-01/,
    );
    const busy = await startReparse(ctx, { document: 'NL/lov/1999-03-26-17' });
    await expect(startReparse(ctx, { all: true })).rejects.toThrow(
      new RegExp(`run ${busy.runId} is still running`),
    );
    await parsePending(ctx, busy.runId);
    expect(await contentDigest(env)).toMatchObject({
      documents: expect.any(String),
      sections: before.sections,
      chunks: before.chunks,
      section_changes: before.section_changes,
    });
    const bad = await lovsync(['reparse', '--all', '--dataset', 'x']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/exactly one of --all, --dataset S, --document ID/);
  });
});
