/**
 * Section-level change tracking on the real husleieloven and Lovtidend fixtures, end to end through
 * the emulator, sync, differ and parser (real Postgres/Redis). Parse jobs run in a chosen order.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { getRun } from '@lovsync/shared/db';
import { buildTarBz2, fixtureEntries } from '@lovsync/testkit/archive/archive-builder';
import type { ArchiveEntry } from '@lovsync/testkit/archive/archive-entry';
import { startEmulator, type Emulator } from '@lovsync/testkit/emulator/server';
import { createTestEnv, type TestEnv } from '@lovsync/testkit/support/harness';
import { createTestContext, rows } from '@lovsync/testkit/support/context';
import { parsePending, syncAndDiff } from '@lovsync/testkit/support/cycle';
import type { Runtime } from '@lovsync/shared/runtime';

const LOVER = 'gjeldende-lover.tar.bz2';
const HUSLEIE = 'nl/nl-19990326-017.xml';
const HUSLEIE_ID = 'NL/lov/1999-03-26-17';
let env: TestEnv;
let emu: Emulator;
let ctx: Runtime;
let archives: string;

async function publish(name: string, entries: ArchiveEntry[]) {
  await buildTarBz2(entries, join(archives, name));
}
async function cycle(order?: 'removals-first' | 'additions-first') {
  const r = await syncAndDiff(ctx, true);
  await parsePending(
    ctx,
    r.runId,
    order &&
      ((a, b) =>
        ((a.change === 'removed') === (order === 'removals-first') ? -1 : 0) -
        ((b.change === 'removed') === (order === 'removals-first') ? -1 : 0)),
  );
  return r.runId;
}
function edit(entries: ArchiveEntry[], path: string, fn: (xml: string) => string): ArchiveEntry[] {
  return entries.map((e) =>
    e.path === path ? { ...e, content: Buffer.from(fn((e.content as Buffer).toString('utf8'))) } : e,
  );
}
/** Cuts one element `<article ... data-name="NAME">…</article>` out, balancing nested articles. */
function removeArticle(xml: string, dataName: string): string {
  const start = xml.search(new RegExp(`<article class="legalArticle"[^>]*data-name="${dataName}"`));
  if (start < 0) throw new Error(`${dataName} not found`);
  const re = /<article\b[^>]*?(\/?)>|<\/article>/g;
  re.lastIndex = start;
  let depth = 0;
  for (let m = re.exec(xml); m; m = re.exec(xml)) {
    if (m[0].startsWith('</')) depth--;
    else if (m[1] !== '/') depth++;
    if (depth === 0) return xml.slice(0, start) + xml.slice(re.lastIndex);
  }
  throw new Error('unbalanced');
}

beforeAll(async () => {
  env = await createTestEnv('changes');
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
beforeEach(async () => {
  await env.database.pool.query(
    `TRUNCATE files, file_changes, run_datasets, sync_runs, datasets, manifest_entries, blobs, blob_documents, documents,
       sections, chunks, cross_references, section_changes, document_changes RESTART IDENTITY CASCADE`,
  );
  for (const f of [
    'gjeldende-lover.tar.bz2',
    'lovtidend-avd1-2025.tar.bz2',
    'lovtidend-avd1-2001-2025.tar.bz2',
  ]) {
    await rm(join(archives, f), { force: true });
  }
});

describe('section-level changes of husleieloven', () => {
  it('an edited ledd of §1-2 gives one modified section (editorial); moving lastChangedBy makes it an amendment; a removed § is removed', async () => {
    const base = fixtureEntries('gjeldende-lover');
    await publish(LOVER, base);
    const r1 = await cycle();
    expect((await getRun(env.database.pool, r1))!.status).toBe('succeeded');
    expect(await rows(env, 'SELECT * FROM section_changes')).toEqual([]);
    const [added] = await rows(
      env,
      'SELECT change, kind FROM document_changes WHERE run_id = $1 AND document_id = $2',
      [r1, HUSLEIE_ID],
    );
    expect(added).toEqual({ change: 'added', kind: null });

    const oldLedd = 'Ved leie av lokale kan loven fravikes i avtale';
    const edited = edit(base, HUSLEIE, (x) =>
      x.replace(oldLedd, 'Ved leie av lokale kan loven likevel fravikes i avtale'),
    );
    await publish(LOVER, edited);
    const r2 = await cycle();
    const sc = await rows<{
      section_key: string;
      change: string;
      old_text: string;
      new_text: string;
      number: string;
    }>(env, 'SELECT section_key, change, number, old_text, new_text FROM section_changes WHERE run_id = $1', [
      r2,
    ]);
    expect(sc).toHaveLength(1);
    expect(sc[0]).toMatchObject({ section_key: '§1-2', change: 'modified', number: '§ 1-2' });
    expect(sc[0]!.old_text).toContain(oldLedd);
    expect(sc[0]!.new_text).toContain('Ved leie av lokale kan loven likevel fravikes i avtale');
    expect(
      await rows(env, 'SELECT document_id, change, kind FROM document_changes WHERE run_id = $1', [r2]),
    ).toEqual([{ document_id: HUSLEIE_ID, change: 'modified', kind: 'editorial' }]);
    const [fc] = await rows(env, 'SELECT path, change, parse_status FROM file_changes WHERE run_id = $1', [
      r2,
    ]);
    expect(fc).toEqual({ path: HUSLEIE, change: 'modified', parse_status: 'succeeded' });

    const amended = edit(edited, HUSLEIE, (x) =>
      x.replace(
        '<dd class="lastChangedBy"><a href="lov/2024-06-25-53">lov/2024-06-25-53</a> fra 2024-07-01</dd>',
        '<dd class="lastChangedBy"><a href="lov/2025-06-20-93">lov/2025-06-20-93</a> fra 2025-07-01</dd>',
      ),
    );
    await publish(LOVER, amended);
    const r3 = await cycle();
    expect(
      await rows(env, 'SELECT document_id, change, kind FROM document_changes WHERE run_id = $1', [r3]),
    ).toEqual([{ document_id: HUSLEIE_ID, change: 'modified', kind: 'amendment' }]);

    await publish(
      LOVER,
      edit(amended, HUSLEIE, (x) => removeArticle(x, '§1-3')),
    );
    const r4 = await cycle();
    const removed = await rows<{
      section_key: string;
      change: string;
      old_text: string | null;
      new_text: string | null;
    }>(env, 'SELECT section_key, change, old_text, new_text FROM section_changes WHERE run_id = $1', [r4]);
    expect(removed).toHaveLength(1);
    expect(removed[0]).toMatchObject({ section_key: '§1-3', change: 'removed', new_text: null });
    expect(removed[0]!.old_text!.length).toBeGreaterThan(10);
    expect(
      await rows(env, `SELECT 1 FROM sections WHERE document_id = $1 AND section_key = '§1-3'`, [HUSLEIE_ID]),
    ).toEqual([]);
  });
});

describe('Lovtidend archive renamed (same files under a new archive name)', () => {
  it.each(['removals-first', 'additions-first'] as const)(
    '%s: no document ends removed and no section changes',
    async (order) => {
      const lti = fixtureEntries('lovtidend-avd1-2025');
      await publish('lovtidend-avd1-2025.tar.bz2', lti);
      await cycle();
      const docsBefore = await rows(env, `SELECT document_id, status FROM documents ORDER BY 1`);
      expect(docsBefore).toHaveLength(13);

      await rm(join(archives, 'lovtidend-avd1-2025.tar.bz2'));
      await publish('lovtidend-avd1-2001-2025.tar.bz2', lti);
      const r2 = await cycle(order);
      const fc = await rows<{ change: string; n: number }>(
        env,
        'SELECT change, count(*)::int AS n FROM file_changes WHERE run_id = $1 GROUP BY 1 ORDER BY 1',
        [r2],
      );
      expect(fc).toEqual([
        { change: 'added', n: 13 },
        { change: 'removed', n: 13 },
      ]);
      expect(await rows(env, `SELECT document_id FROM documents WHERE status = 'removed'`)).toEqual([]);
      expect(await rows(env, 'SELECT * FROM section_changes WHERE run_id = $1', [r2])).toEqual([]);
      expect(await rows(env, `SELECT * FROM document_changes WHERE run_id = $1`, [r2])).toEqual([]);
      const carriers = await rows<{ dataset: string }>(env, 'SELECT DISTINCT dataset FROM documents');
      expect(carriers).toEqual([{ dataset: 'lovtidend-avd1-2001-2025.tar.bz2' }]);
      expect((await getRun(env.database.pool, r2))!.status).toBe('succeeded');
    },
  );

  it('a file removed for good tombstones its document: status removed, chunks deleted, sections recorded removed', async () => {
    const lti = fixtureEntries('lovtidend-avd1-2025');
    await publish('lovtidend-avd1-2025.tar.bz2', lti);
    await cycle();
    const victim = lti.find((e) => e.path.endsWith('sf-20250109-0020.xml'))!;
    await publish(
      'lovtidend-avd1-2025.tar.bz2',
      lti.filter((e) => e !== victim),
    );
    const r2 = await cycle();
    const id = 'LTI/forskrift/2025-01-09-20';
    expect(await rows(env, 'SELECT status FROM documents WHERE document_id = $1', [id])).toEqual([
      { status: 'removed' },
    ]);
    expect(await rows(env, 'SELECT 1 FROM chunks WHERE document_id = $1', [id])).toEqual([]);
    const sc = await rows<{ change: string }>(
      env,
      'SELECT change FROM section_changes WHERE run_id = $1 AND document_id = $2',
      [r2, id],
    );
    const sections = await rows(env, 'SELECT 1 FROM sections WHERE document_id = $1', [id]);
    expect(sc.length).toBe(sections.length);
    expect(sc.every((s) => s.change === 'removed')).toBe(true);
    expect(await rows(env, 'SELECT change FROM document_changes WHERE run_id = $1', [r2])).toEqual([
      { change: 'removed' },
    ]);
  });
});
