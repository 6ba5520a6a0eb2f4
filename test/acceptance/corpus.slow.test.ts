/**
 * Acceptance on the real sample corpus (issue 12): the three real archives of /work/shared/corpus
 * (2,557 documents, 100 MB of XML, NLOD 2.0) through the emulator, sync, differ and parser.
 * - every file parsed, documents = files (the Grunnloven twins distinct), article sections = the raw
 *   count of `<article class="legalArticle"` in the archives (counted here), no parse failures;
 * - the same archives re-serialised (XML declaration, indentation, numeric character references,
 *   produced here) -> every file modified, zero section_changes, zero document_changes.
 * Slow tier (`*.slow.test.ts`): a few minutes on a loaded 2-core machine.
 */
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ParseJobData } from '@lovsync/shared/queues';
import { pendingParseJobs } from '@lovsync/differ';
import { processParseJob } from '@lovsync/parser';
import { buildTarBz2 } from '@lovsync/testkit/archive/archive-builder';
import type { ArchiveEntry } from '@lovsync/testkit/archive/archive-entry';
import { prettyPrintXml } from '@lovsync/testkit/archive/pretty-xml';
import { startEmulator, type Emulator } from '@lovsync/testkit/emulator/server';
import { createTestEnv, type TestEnv } from '@lovsync/testkit/support/harness';
import { createTestContext, rows } from '@lovsync/testkit/support/context';
import { syncAndDiff } from '@lovsync/testkit/support/cycle';
import { CORPUS_ARCHIVES, CORPUS_DIR, corpusAvailable, corpusEntries } from '@lovsync/testkit/support/corpus';
import type { Runtime } from '@lovsync/shared/runtime';

let env: TestEnv;
let emu: Emulator;
let ctx: Runtime;
let archives: string;
const entries = new Map<string, ArchiveEntry[]>();

const count = async (sql: string, params: unknown[] = []) =>
  (await rows<{ n: number }>(env, sql, params))[0]!.n;

/** The run's parse jobs, four at a time (as a parser with PARSER_CONCURRENCY 4 would). */
async function parseAll(runId: number): Promise<void> {
  const jobs = await pendingParseJobs(ctx.database.pool, runId);
  let next = 0;
  const lane = async () => {
    for (let j: ParseJobData | undefined; (j = jobs[next++]);) {
      try {
        await processParseJob(ctx, j);
      } catch (err) {
        throw new Error(`${j.dataset}/${j.path}: ${(err as Error).message}`);
      }
    }
  };
  await Promise.all([lane(), lane(), lane(), lane()]);
}

beforeAll(async () => {
  if (!corpusAvailable()) return;
  env = await createTestEnv('corpus');
  archives = join(env.tmp, 'archives');
  await mkdir(archives, { recursive: true });
  for (const a of CORPUS_ARCHIVES) {
    await copyFile(join(CORPUS_DIR, a), join(archives, a)); // the real archives, byte for byte
    entries.set(a, corpusEntries(a, join(env.tmp, 'unpacked')));
  }
  emu = await startEmulator({ dir: archives });
  ctx = createTestContext(env, { LOVDATA_API_URL: emu.url });
}, 300_000);
afterAll(async () => {
  await ctx?.close();
  await emu?.close();
  await env?.teardown();
});

describe.runIf(corpusAvailable())('the real sample corpus', () => {
  it('cold sync: every file parsed, documents = files (twins distinct), article sections = raw legalArticle count', async () => {
    const files = [...entries.values()].flat();
    let rawArticles = 0;
    for (const e of files)
      rawArticles += ((e.content as Buffer).toString('utf8').match(/<article class="legalArticle"/g) ?? [])
        .length;
    expect(files.length).toBe(755 + 346 + 1456);

    const r = await syncAndDiff(ctx);
    expect(await count('SELECT count(*)::int AS n FROM file_changes WHERE run_id = $1', [r.runId])).toBe(
      files.length,
    );
    await parseAll(r.runId);
    expect(
      await rows(env, `SELECT path, parse_error FROM file_changes WHERE parse_status <> 'succeeded' LIMIT 5`),
    ).toEqual([]);
    expect(
      await rows(env, `SELECT path, parse_error FROM file_changes WHERE parse_error IS NOT NULL LIMIT 5`),
    ).toEqual([]);
    expect(await count(`SELECT count(*)::int AS n FROM documents WHERE status = 'active'`)).toBe(
      files.length,
    );
    expect(
      await rows(
        env,
        `SELECT document_id, language FROM documents WHERE dokid = 'NL/lov/1814-05-17' ORDER BY 1`,
      ),
    ).toEqual([
      { document_id: 'NL/lov/1814-05-17', language: 'no' },
      { document_id: 'NL/lov/1814-05-17@nn', language: 'nn' },
    ]);
    expect(await count(`SELECT count(*)::int AS n FROM sections WHERE kind = 'article'`)).toBe(rawArticles);
    expect(await count('SELECT count(*)::int AS n FROM section_changes')).toBe(0);
    expect((await rows(env, 'SELECT status FROM sync_runs WHERE id = $1', [r.runId]))[0]).toEqual({
      status: 'succeeded',
    });
  }, 900_000);

  it('re-serialised archives: every file modified, zero section_changes, zero document_changes', async () => {
    for (const [a, list] of entries)
      await buildTarBz2(
        (function* () {
          for (const e of list)
            yield { ...e, content: Buffer.from(prettyPrintXml((e.content as Buffer).toString('utf8'))) };
        })(),
        join(archives, a),
      );
    const total = [...entries.values()].reduce((n, l) => n + l.length, 0);
    const r = await syncAndDiff(ctx);
    expect(
      await rows(env, 'SELECT change, count(*)::int AS n FROM file_changes WHERE run_id = $1 GROUP BY 1', [
        r.runId,
      ]),
    ).toEqual([{ change: 'modified', n: total }]);
    await parseAll(r.runId);
    expect(
      await count(
        `SELECT count(*)::int AS n FROM file_changes WHERE run_id = $1 AND parse_status = 'succeeded'`,
        [r.runId],
      ),
    ).toBe(total);
    expect(await rows(env, 'SELECT document_id, section_key FROM section_changes LIMIT 5')).toEqual([]);
    expect(
      await rows(env, 'SELECT document_id, change, kind FROM document_changes WHERE run_id = $1 LIMIT 5', [
        r.runId,
      ]),
    ).toEqual([]);
    expect(await count(`SELECT count(*)::int AS n FROM documents WHERE status = 'active'`)).toBe(total);
  }, 900_000);
});
