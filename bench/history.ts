/**
 * bench/history (issue 13): what the versioned history costs in storage. A cold `lovsync run` of
 * the real corpus (../shared/corpus: 3 archives, ~2,550 documents, ~100 MB of XML) from the
 * emulator, then 10 incremental runs, each after 1% of every archive's files were edited (one ledd
 * each, editEntries; the edits accumulate like Lovdata's). After each run: the database size, the
 * history tables' size (section_versions + document_versions with their TOAST and indexes) and the
 * size without them. Target: history adds <= 15% over the size without history.
 *
 * The runs are the in-process cycle of `lovsync run` (runCycle: sync, diff and parse workers in
 * this process, PARSER_CONCURRENCY default), on a fresh database. Sizes after VACUUM (ANALYZE) of
 * the database, so dead rows left by the runs' updates do not count for either side.
 *
 *   pnpm bench:history
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { buildTarBz2, entriesFromDir } from '@lovsync/testkit/archive/archive-builder';
import type { ArchiveEntry } from '@lovsync/testkit/archive/archive-entry';
import { editEntries } from '@lovsync/testkit/archive/fixture-corpus';
import { startEmulator } from '@lovsync/testkit/emulator/server';
import { createTestEnv } from '@lovsync/testkit/support/harness';
import { runCycle } from '@lovsync/app/compose/run-cycle';
import { log, printTable, verdict } from './lib/stats.ts';
import { ROOT } from './lib/proc.ts';

/** ../shared/corpus next to the repository (a worktree elsewhere: CORPUS_DIR or /work/shared/corpus). */
const CORPUS =
  process.env.CORPUS_DIR ??
  [join(ROOT, '..', 'shared', 'corpus'), '/work/shared/corpus'].find((d) => existsSync(d)) ??
  join(ROOT, '..', 'shared', 'corpus');
const ROUNDS = Number(process.env.ROUNDS ?? 10);
const EDIT_FRACTION = 0.01;
const TARGET = 0.15;
const exec = promisify(execFile);

const env = await createTestEnv('bench_history');
const archives = join(env.tmp, 'archives');
await mkdir(archives, { recursive: true });
const datasets = [
  'gjeldende-lover.tar.bz2',
  'gjeldende-sentrale-forskrifter.tar.bz2',
  'lovtidend-avd1-2001-2024.tar.bz2',
];
const entries = new Map<string, ArchiveEntry[]>();
for (const d of datasets) {
  await copyFile(join(CORPUS, d), join(archives, d));
  const dir = join(env.tmp, 'x', d);
  await mkdir(dir, { recursive: true });
  await exec('tar', ['-xjf', join(CORPUS, d), '-C', dir]);
  const list: ArchiveEntry[] = [];
  for await (const e of entriesFromDir(dir)) list.push(e);
  entries.set(d, list);
  await rm(dir, { recursive: true, force: true });
}
const emu = await startEmulator({ dir: archives });
const cfg = env.config({ LOVDATA_API_URL: emu.url, LOVDATA_DATASET_FILTER: 'null', LOG_LEVEL: 'warn' });
const pool = new pg.Pool({ connectionString: env.databaseUrl, max: 1 });

interface Row {
  run: string;
  files: number;
  total: number;
  history: number;
}
const rows: Row[] = [];
async function measure(label: string, files: number) {
  await pool.query('VACUUM ANALYZE');
  const r = await pool.query<{ total: string; history: string }>(
    `SELECT pg_database_size(current_database()) AS total,
       pg_total_relation_size('section_versions') + pg_total_relation_size('document_versions') AS history`,
  );
  const row = { run: label, files, total: Number(r.rows[0]!.total), history: Number(r.rows[0]!.history) };
  rows.push(row);
  log(
    `${label}: database ${(row.total / 2 ** 20).toFixed(1)} MiB, history ${(row.history / 2 ** 20).toFixed(1)} MiB`,
  );
}

try {
  const t0 = Date.now();
  const cold = await runCycle(cfg, { force: false, log: env.log });
  log(
    `cold run ${cold.run.id}: ${cold.run.status}, ${cold.run.parseSucceeded}/${cold.run.parseTotal} parsed in ${((Date.now() - t0) / 1000).toFixed(0)} s`,
  );
  await measure('cold', cold.run.parseTotal);
  for (let round = 1; round <= ROUNDS; round++) {
    for (const d of datasets) {
      const edited = editEntries(entries.get(d)!, EDIT_FRACTION, 1000 + round);
      entries.set(d, edited.entries);
      await buildTarBz2(edited.entries, join(archives, d));
      emu.setLastModified(d, new Date(Date.UTC(2026, 0, 1 + round, 2, 30)));
    }
    const t = Date.now();
    const r = await runCycle(cfg, { force: false, log: env.log });
    log(
      `round ${round} run ${r.run.id}: ${r.run.status}, ${r.run.parseSucceeded}/${r.run.parseTotal} parsed in ${((Date.now() - t) / 1000).toFixed(0)} s`,
    );
    await measure(`+${round}`, r.run.parseTotal);
  }
  const mib = (n: number) => (n / 2 ** 20).toFixed(1);
  printTable(
    ['after', 'files parsed', 'database MiB', 'history MiB', 'without history MiB', 'history / without'],
    rows.map((r) => [
      r.run,
      String(r.files),
      mib(r.total),
      mib(r.history),
      mib(r.total - r.history),
      `${((100 * r.history) / (r.total - r.history)).toFixed(1)}%`,
    ]),
  );
  const last = rows.at(-1)!;
  const first = rows[0]!;
  const share = last.history / (last.total - last.history);
  const growth =
    (last.history - first.history) / Math.max(1, last.total - last.history - (first.total - first.history));
  verdict(
    `history adds <= ${TARGET * 100}% over the size without history`,
    share <= TARGET,
    `after the cold run and ${ROUNDS} incremental runs: +${(share * 100).toFixed(1)}% (${mib(last.history)} of ${mib(last.total - last.history)} MiB); ` +
      `of the growth over the ${ROUNDS} runs, history is ${(growth * 100).toFixed(1)}% of the rest's growth`,
  );
} finally {
  await pool.end();
  await emu.close();
  await env.teardown();
}
