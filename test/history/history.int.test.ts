/**
 * Issue 13 acceptance: versioned history on the real husleieloven fixture, end to end through the
 * emulator, sync, differ and parser (real Postgres/Redis), read back with the real CLI.
 *   run 1: the fixture as published (v1)
 *   run 2: §9-3 edited, a changesToParent note naming lov/2025-06-20-93 added, lastChangedBy moved (v2)
 *   run 3: §9-3 edited again with a second note entry (lov/2025-12-12-120), §1-2 edited (editorial) (v3)
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTarBz2, fixtureEntries } from '@lovsync/testkit/archive/archive-builder';
import { startEmulator, type Emulator } from '@lovsync/testkit/emulator/server';
import { createTestEnv, type TestEnv } from '@lovsync/testkit/support/harness';
import { createTestContext, rows } from '@lovsync/testkit/support/context';
import { parsePending, syncAndDiff } from '@lovsync/testkit/support/cycle';
import { ID, publishThreeRuns, T1, T2, T3 } from './three-runs.ts';
import type { Runtime } from '@lovsync/shared/runtime';
import {
  diffHistory,
  documentAsOf,
  HistoryInputError,
  parseDate,
  parseRunId,
  parseVersionPoint,
  resolveDocumentId,
  resolveSectionKey,
} from '@lovsync/shared/db';

/**
 * Each of these tests starts the CLI (node + tsx, ~3 s on an idle machine, 15-20 s measured at load
 * 17-22 on this 2-core host) up to four times, or runs two forced sync cycles: 60 s is not enough
 * when the machine is shared.
 */
const SLOW = 180_000;
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const exec = promisify(execFile);
let env: TestEnv;
let emu: Emulator;
let ctx: Runtime;
let archives: string;
const runs: number[] = [];

async function lovsync(args: string[]) {
  try {
    const r = await exec(process.execPath, ['apps/lovsync/bin/lovsync.js', ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env.env({ LOVDATA_API_URL: emu.url }) },
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
async function lovsyncJson<T>(args: string[]): Promise<T> {
  const r = await lovsync([...args, '--json']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as T;
}
type Shown = {
  document: { validFromRun: number; lastChangedBy: string };
  sections: { sectionKey: string; text: string }[];
};

beforeAll(async () => {
  env = await createTestEnv('history');
  archives = join(env.tmp, 'archives');
  await mkdir(archives, { recursive: true });
  emu = await startEmulator({ dir: archives });
  ctx = createTestContext(env, { LOVDATA_API_URL: emu.url });
  runs.push(...(await publishThreeRuns(ctx, emu, archives)));
}, 240_000);
afterAll(async () => {
  await ctx?.close();
  await emu?.close();
  await env?.teardown();
});

describe('three runs of husleieloven', () => {
  it('the runs are 1, 2, 3 and each changed what it should', async () => {
    expect(runs).toEqual([1, 2, 3]);
    expect(
      await rows(
        env,
        `SELECT run_id, section_key FROM section_changes WHERE document_id = $1 ORDER BY 1, 2`,
        [ID],
      ),
    ).toEqual([
      { run_id: 2, section_key: '§9-3' },
      { run_id: 3, section_key: '§1-2' },
      { run_id: 3, section_key: '§9-3' },
    ]);
  });

  it(
    'show --run 1/2/3 returns the three texts of § 9-3 (refid, "§ 9-3" with a space)',
    async () => {
      for (const [run, text] of [
        [1, T1],
        [2, T2],
        [3, T3],
      ] as const) {
        const r = await lovsyncJson<Shown>(['show', 'lov/1999-03-26-17', '§ 9-3', '--run', String(run)]);
        expect(r.sections).toHaveLength(1);
        expect(r.sections[0]!.sectionKey).toBe('§9-3');
        expect(r.sections[0]!.text).toContain(text);
      }
      const text = await lovsync(['show', 'HUSLEIELOVEN', '9-3', '--run', '2']);
      expect(text.code).toBe(0);
      expect(text.stdout).toContain(T2);
      expect(text.stdout).toContain('in force 2025-07-01 by lov/2025-06-20-93');
    },
    SLOW,
  );

  it(
    '--as-of a date between the v2 and v3 publications returns v2; the whole document in order',
    async () => {
      const r = await lovsyncJson<Shown>(['show', ID, '--as-of', '2025-04-01']);
      expect(r.document.validFromRun).toBe(2);
      expect(r.document.lastChangedBy).toContain('lov/2025-06-20-93');
      const keys = r.sections.map((s) => s.sectionKey);
      expect(keys.indexOf('§1-2')).toBe(keys.indexOf('§1-1') + 1);
      expect(keys.indexOf('§9-3')).toBe(keys.indexOf('§9-2') + 1);
      const current = await rows<{ section_key: string }>(
        env,
        'SELECT section_key FROM sections WHERE document_id = $1 ORDER BY ord',
        [ID],
      );
      expect(keys).toEqual(current.map((c) => c.section_key));
      expect(r.sections.find((s) => s.sectionKey === '§9-3')!.text).toContain(T2);
      // the day of the v3 publication (Oslo) already shows v3; the day before v1 shows nothing
      const v3 = await lovsyncJson<Shown>(['show', ID, '§9-3', '--as-of', '2025-06-10']);
      expect(v3.sections[0]!.text).toContain(T3);
      await expect(
        documentAsOf(env.database.pool, { documentId: ID, point: { date: '2025-01-09' } }),
      ).rejects.toThrow(/history starts at run 1/);
    },
    SLOW,
  );

  it(
    'history lists 3 versions with the amending act where the note names one',
    async () => {
      const h = await lovsyncJson<{
        total: number;
        versions: {
          validFromRun: number;
          validToRun: number | null;
          origin: string;
          amendedBy: string | null;
          inForce: string | null;
          changeNote: string | null;
          text: string;
        }[];
      }>(['history', 'husleieloven', '§ 9-3']);
      expect(h.total).toBe(3);
      expect(h.versions.map((v) => [v.validFromRun, v.validToRun, v.origin, v.amendedBy, v.inForce])).toEqual(
        [
          [1, 2, 'first_seen', null, null],
          [2, 3, 'changed', 'lov/2025-06-20-93', '2025-07-01'],
          [3, null, 'changed', 'lov/2025-12-12-120', '2026-01-01'],
        ],
      );
      expect(h.versions[2]!.changeNote).toBe('12 des 2025 nr. 120 (ikr. 1 jan 2026)');
      expect(
        h.versions.map((v) => v.text.includes(T1) || v.text.includes(T2) || v.text.includes(T3)),
      ).toEqual([true, true, true]);
      // §1-2's edit in run 3 is editorial: its note names no new act and the document's did not move
      const h12 = await rows(
        env,
        `SELECT valid_from_run, amended_by FROM section_versions WHERE document_id = $1 AND section_key = '§1-2' ORDER BY 1`,
        [ID],
      );
      expect(h12.map((r) => r.valid_from_run)).toEqual([1, 3]);
      expect(h12[1]!.amended_by).toBeNull();
    },
    SLOW,
  );

  it(
    'diff --from 1 --to 3 lists exactly the edited sections; diff 1..2 only §9-3; dates work too',
    async () => {
      type D = {
        total: number;
        sections: {
          documentId: string;
          sectionKey: string;
          change: string;
          oldText: string;
          newText: string;
        }[];
        documents: { documentId: string; change: string; fields: Record<string, unknown> }[];
      };
      const all = await lovsyncJson<D>(['diff', '--from', '1', '--to', '3']);
      expect(all.sections.map((s) => [s.documentId, s.sectionKey, s.change])).toEqual([
        [ID, '§1-2', 'modified'],
        [ID, '§9-3', 'modified'],
      ]);
      expect(all.sections[1]!.oldText).toContain(T1);
      expect(all.sections[1]!.newText).toContain(T3);
      expect(all.documents).toEqual([
        expect.objectContaining({
          documentId: ID,
          change: 'modified',
          fields: expect.objectContaining({ last_changed_by: expect.anything() as unknown }) as unknown,
        }),
      ]);
      const one = await diffHistory(env.database.pool, { documentId: ID, from: { run: 1 }, to: { run: 2 } });
      expect(one.sections.map((s) => s.sectionKey)).toEqual(['§9-3']);
      const byDate = await diffHistory(env.database.pool, {
        documentId: ID,
        from: { date: '2025-02-01' },
        to: { date: '2025-06-30' },
      });
      expect(byDate.sections.map((s) => s.sectionKey)).toEqual(['§1-2', '§9-3']);
      const text = await lovsync(['diff', ID, '--from', '2', '--to', '3']);
      expect(text.stdout).toContain(`- ${T2}`);
      expect(text.stdout).toContain(`+ ${T3}`);
    },
    SLOW,
  );

  it('an unchanged section has one version row; metadata has two versions (lastChangedBy moved at run 2)', async () => {
    expect(
      await rows(
        env,
        `SELECT valid_from_run, valid_to_run, text FROM section_versions WHERE document_id = $1 AND section_key = '§1-1'`,
        [ID],
      ),
    ).toEqual([{ valid_from_run: 1, valid_to_run: null, text: null }]);
    const sv = await rows<{ n: number }>(
      env,
      'SELECT count(*)::int AS n FROM section_versions WHERE document_id = $1',
      [ID],
    );
    const s = await rows<{ n: number }>(
      env,
      'SELECT count(*)::int AS n FROM sections WHERE document_id = $1',
      [ID],
    );
    expect(sv[0]!.n).toBe(s[0]!.n + 3);
    expect(
      await rows(
        env,
        'SELECT valid_from_run, valid_to_run, last_changed_by FROM document_versions WHERE document_id = $1 ORDER BY 1',
        [ID],
      ),
    ).toEqual([
      { valid_from_run: 1, valid_to_run: 2, last_changed_by: 'lov/2024-06-25-53 fra 2024-07-01' },
      { valid_from_run: 2, valid_to_run: null, last_changed_by: 'lov/2025-06-20-93 fra 2025-07-01' },
    ]);
  });

  it(
    'bad input: clear errors with exit 1 (unknown) or 2 (invalid), from the shared queries and the CLI',
    async () => {
      const db = env.database.pool;
      const err = async (p: Promise<unknown>) => {
        try {
          await p;
        } catch (e) {
          if (e instanceof HistoryInputError) return [e.kind, e.message];
          throw e;
        }
        throw new Error('no error');
      };
      expect(await err(resolveDocumentId(db, 'lov/1800-01-01-1'))).toEqual([
        'not_found',
        'document "lov/1800-01-01-1" not found',
      ]);
      expect(await err(resolveSectionKey(db, ID, '§99-99'))).toEqual([
        'not_found',
        `section "§99-99" not found in ${ID}`,
      ]);
      expect(await err(documentAsOf(db, { documentId: ID, point: { run: 99 } }))).toEqual([
        'not_found',
        'run 99 not found (see `lovsync runs`)',
      ]);
      expect(() => parseDate('2025-02-30', '--as-of')).toThrow(/--as-of must be a date YYYY-MM-DD/);
      expect(() => parseRunId('0', '--run')).toThrow(/--run must be a run id/);
      expect(() => parseVersionPoint('x', '--from')).toThrow(/--from must be a run id \(e.g. 12\) or a date/);
      expect(await err(diffHistory(db, { from: { run: 3 }, to: { run: 1 } }))).toEqual([
        'invalid',
        'the range is empty or reversed: --from run 3 must be before --to run 1',
      ]);
      expect(
        await err(diffHistory(db, { from: { date: '2025-05-01' }, to: { date: '2025-05-01' } })),
      ).toEqual(['invalid', expect.stringMatching(/empty or reversed/) as unknown]);
      await expect(resolveDocumentId(db, 'HUSLL')).resolves.toBe(ID);
      await expect(resolveDocumentId(db, 'LOV-1999-03-26-17')).resolves.toBe(ID);
      const cases: [string[], number, RegExp][] = [
        [['show', 'lov/1800-01-01-1'], 1, /^lovsync: document "lov\/1800-01-01-1" not found\n$/],
        [
          ['show', ID, '--run', '1', '--as-of', '2025-13-01'],
          2,
          /^lovsync: give either --as-of or --run, not both\n$/,
        ],
        [['diff', '--from', '3', '--to', '1'], 2, /^lovsync: the range is empty or reversed/],
      ];
      for (const [args, code, message] of cases) {
        const r = await lovsync(args);
        expect({ args, code: r.code }).toEqual({ args, code });
        expect(r.stderr).toMatch(message);
        expect(r.stdout).toBe('');
      }
    },
    SLOW,
  );
});

describe('migration 0008 on a database synced before it', () => {
  it('backfills the current state as first-seen versions from the run that last wrote each document, as the writer would', async () => {
    const sql = readFileSync(join(ROOT, 'packages/shared/drizzle/0008_history.sql'), 'utf8')
      .split('--> statement-breakpoint')
      .filter((s) => /^\s*(--[^\n]*\n\s*)*INSERT INTO/.test(s));
    expect(sql).toHaveLength(2);
    const q = `SELECT document_id, section_key, valid_from_run, valid_to_run, observed_from, origin, text_hash, number, title FROM section_versions
      WHERE document_id <> $1 UNION ALL SELECT document_id, refid, valid_from_run, valid_to_run, observed_from, origin, title, last_changed_by, short_title
      FROM document_versions WHERE document_id <> $1 ORDER BY 1, 2, 3`;
    const written = await rows(env, q, [ID]);
    expect(written.length).toBeGreaterThan(100);
    const c = await env.database.pool.connect();
    try {
      await c.query('BEGIN');
      await c.query('DELETE FROM section_versions');
      await c.query('DELETE FROM document_versions');
      for (const s of sql) await c.query(s);
      expect((await c.query(q, [ID])).rows).toEqual(written);
      const h = await c.query(
        `SELECT valid_from_run, origin FROM section_versions WHERE document_id = $1 AND section_key = '§9-3'`,
        [ID],
      );
      expect(h.rows).toEqual([{ valid_from_run: 3, origin: 'first_seen' }]);
    } finally {
      await c.query('ROLLBACK');
      c.release();
    }
  });
});

describe('no versions from a Lovtidend rename; a tombstone closes versions', () => {
  it.each(['removals-first', 'additions-first'] as const)(
    '%s',
    async (order) => {
      const lti = fixtureEntries('lovtidend-avd1-2025');
      for (const f of ['lovtidend-avd1-2025.tar.bz2', 'lovtidend-avd1-2001-2025.tar.bz2'])
        await rm(join(archives, f), { force: true });
      await buildTarBz2(lti, join(archives, 'lovtidend-avd1-2025.tar.bz2'));
      const r1 = (await syncAndDiff(ctx, true)).runId;
      await parsePending(ctx, r1);
      const digest = `SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) AS d, count(*)::int AS n FROM
      (SELECT document_id, section_key, valid_from_run, valid_to_run, text_hash, text FROM section_versions WHERE document_id LIKE 'LTI/%'
       UNION ALL SELECT document_id, refid, valid_from_run, valid_to_run, title, NULL FROM document_versions WHERE document_id LIKE 'LTI/%') t`;
      const before = await rows<{ n: number }>(env, digest);
      expect(before[0]!.n).toBeGreaterThan(100);
      await rm(join(archives, 'lovtidend-avd1-2025.tar.bz2'));
      await buildTarBz2(lti, join(archives, 'lovtidend-avd1-2001-2025.tar.bz2'));
      const r2 = (await syncAndDiff(ctx, true)).runId;
      await parsePending(
        ctx,
        r2,
        (a, b) =>
          ((a.change === 'removed') === (order === 'removals-first') ? -1 : 0) -
          ((b.change === 'removed') === (order === 'removals-first') ? -1 : 0),
      );
      expect(await rows(env, 'SELECT count(*)::int AS n FROM file_changes WHERE run_id = $1', [r2])).toEqual([
        { n: 26 },
      ]);
      expect(await rows(env, digest)).toEqual(before);
      expect(
        await rows(env, 'SELECT 1 FROM section_versions WHERE valid_from_run = $1 OR valid_to_run = $1', [
          r2,
        ]),
      ).toEqual([]);
    },
    SLOW,
  );

  it(
    'a file removed for good closes every version of its document at that run, content kept',
    async () => {
      const lti = fixtureEntries('lovtidend-avd1-2025');
      await rm(join(archives, 'lovtidend-avd1-2001-2025.tar.bz2'), { force: true });
      await buildTarBz2(lti, join(archives, 'lovtidend-avd1-2025.tar.bz2'));
      const r1 = (await syncAndDiff(ctx, true)).runId;
      await parsePending(ctx, r1);
      const victim = lti.find((e) => e.path.endsWith('sf-20250109-0020.xml'))!;
      await buildTarBz2(
        lti.filter((e) => e !== victim),
        join(archives, 'lovtidend-avd1-2025.tar.bz2'),
      );
      const r2 = (await syncAndDiff(ctx, true)).runId;
      await parsePending(ctx, r2);
      const id = 'LTI/forskrift/2025-01-09-20';
      expect(
        await rows(
          env,
          'SELECT count(*)::int AS n FROM section_versions WHERE document_id = $1 AND (valid_to_run IS NULL OR text IS NULL)',
          [id],
        ),
      ).toEqual([{ n: 0 }]);
      expect(
        await rows(
          env,
          'SELECT valid_to_run FROM document_versions WHERE document_id = $1 AND valid_to_run IS NOT NULL ORDER BY valid_from_run DESC LIMIT 1',
          [id],
        ),
      ).toEqual([{ valid_to_run: r2 }]);
      const db = env.database.pool;
      const before = await documentAsOf(db, {
        documentId: await resolveDocumentId(db, 'forskrift/2025-01-09-20'),
        point: { run: r1 },
        sectionKey: '§1-1',
      });
      expect(before.sections[0]!.text).toContain('Forskriften gjelder');
      await expect(documentAsOf(db, { documentId: id, point: { run: r2 } })).rejects.toThrow(
        /has no version at run/,
      );
      const d = await diffHistory(db, { from: { run: r1 }, to: { run: r2 } });
      expect(d.documents).toEqual([expect.objectContaining({ documentId: id, change: 'removed' })]);
      expect(d.total).toBe(
        (
          await rows<{ n: number }>(env, 'SELECT count(*)::int AS n FROM sections WHERE document_id = $1', [
            id,
          ])
        )[0]!.n,
      );
    },
    SLOW,
  );
});
