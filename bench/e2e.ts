/**
 * bench/e2e (issue 7): a cold `lovsync run` of a corpus sized like gjeldende-sentrale-forskrifter
 * (~3,400 documents, ~21 MB tar.bz2) from the emulator, then an incremental `lovsync run` after the
 * archive was rebuilt with 1% of its files edited (editEntries: one ledd each). Both are the real
 * CLI in a child process (`node apps/lovsync/bin/lovsync.js run --json`, one process with
 * the sync, diff and parse workers; PARSER_CONCURRENCY 8, the default), on a fresh database per repetition.
 *
 * Phases come from the run's own records: download and decompress+hash (the sync's readMs: bzip2,
 * tar, hashing and the manifest/blob writes) from run_datasets.timings, diff from its diffMs, parse
 * = the CLI's total minus those three (worker start, the list request and queue hand-offs
 * included), cross-checked against the first..last parsed_at of the run's file_changes; start-up =
 * process wall time minus the CLI's total (node + tsx, migrations, connections).
 *
 * The corpus keeps the fixtures' documents but not their size mix: the 21 fixtures average 132 kB
 * (one alone is 1.5 MB) where the real archive averages ~60 kB, so the small fixtures are copied
 * more often than the large ones (TIERS).
 *
 *   pnpm bench:e2e             (REPS=3 by default)
 */
import { spawn } from 'node:child_process';
import { link, mkdir, readFile, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { startEmulator, type Emulator } from '@lovsync/testkit/emulator/server';
import { createTestEnv, type TestEnv } from '@lovsync/testkit/support/harness';
import { sampleBackendCpu } from './lib/backend-sampler.ts';
import type { RunCycleResult } from '@lovsync/app/compose/run-cycle';
import { collectOutput, ROOT, timeShell } from './lib/proc.ts';
import { waitForQuiet } from './lib/quiet.ts';
import { fmt, log, MB, MiB, printTable, summarise, verdict } from './lib/stats.ts';
import { buildCorpusPair, type CorpusMeta } from './lib/tiered-corpus.ts';
import { cachedDir } from './lib/work.ts';

const REPS = Number(process.env.REPS ?? 3);
const DATASET = 'gjeldende-sentrale-forskrifter.tar.bz2';
const EDIT_FRACTION = 0.01;
const EDIT_SEED = 7;
const TARGET = 0.35;
/** Copies per fixture by its size: 11 x 200 + 9 x 132 + 1 x 12 = 3,400 documents. */
const TIERS = [
  { maxBytes: 40_000, copies: 200 },
  { maxBytes: 300_000, copies: 132 },
  { maxBytes: Infinity, copies: 12 },
];
const SPEC = `e2e-v1 ${JSON.stringify({ TIERS, EDIT_FRACTION, EDIT_SEED })}`;
/** lastModified the emulator lists for the cold archive; the edited one is a day later. */
const COLD_LAST_MODIFIED = new Date('2026-07-01T01:31:00Z');
const EDITED_LAST_MODIFIED = new Date('2026-07-02T01:31:00Z');

/** What `lovsync run --json` prints: the CLI's own result type. */
type RunJson = RunCycleResult;

interface RunResult {
  kind: 'cold' | 'incremental';
  rep: number;
  wallMs: number;
  totalMs: number;
  downloadMs: number;
  readMs: number;
  diffMs: number;
  /** The CLI's total minus download, decompress+hash and diff. */
  parseMs: number;
  /** First to last parsed_at of the run's file_changes. */
  parseSpanMs: number;
  parsed: number;
  parsedBytes: number;
  json: RunJson;
  /** CPU seconds of the CLI process and its children (lbzip2), from /usr/bin/time. */
  cliCpu: number;
  /** Peak RSS of the CLI process (the largest of the process tree), bytes. */
  cliMaxRss: number;
  /** CPU seconds of the Postgres backends of the database during the run. */
  postgresCpu: number;
}

const buildCorpus = (dir: string): Promise<CorpusMeta> =>
  buildCorpusPair(dir, {
    label: 'e2e',
    tiers: TIERS,
    dataset: DATASET,
    editFraction: EDIT_FRACTION,
    editSeed: EDIT_SEED,
  });

/** Serves `archive` as the emulator's only dataset (a hard link in its directory). */
async function serve(emulator: Emulator, serveDir: string, archive: string, lastModified: Date) {
  await unlink(join(serveDir, DATASET)).catch(() => undefined);
  await link(archive, join(serveDir, DATASET));
  emulator.setLastModified(DATASET, lastModified);
}

/** `lovsync run --json` as a child process under /usr/bin/time; returns its JSON, wall ms and rusage. */
async function runCli(
  env: Record<string, string>,
  timeFile: string,
): Promise<{ json: RunJson; wallMs: number; cpu: number; maxRss: number }> {
  const t0 = performance.now();
  const child = spawn(
    '/usr/bin/time',
    ['-f', '%U %S %M', '-o', timeFile, process.execPath, 'apps/lovsync/bin/lovsync.js', 'run', '--json'],
    { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const { code, stdout, stderr } = await collectOutput(child);
  const wallMs = performance.now() - t0;
  if (code !== 0) {
    throw new Error(`lovsync run exited ${code}: ${stderr.trim().slice(-3000)}\n${stdout.slice(-2000)}`);
  }
  const json = JSON.parse(stdout.slice(stdout.indexOf('{'))) as RunJson;
  const lines = (await readFile(timeFile, 'utf8')).trim().split('\n');
  const [user, system, maxRssKb] = lines[lines.length - 1]!.split(' ').map(Number) as [
    number,
    number,
    number,
  ];
  return { json, wallMs, cpu: user + system, maxRss: maxRssKb * 1024 };
}

async function measuredRun(
  env: TestEnv,
  emulator: Emulator,
  kind: RunResult['kind'],
  rep: number,
): Promise<RunResult> {
  await timeShell('sync'); // write back dirty pages (the archive builds) before the clock starts
  const quiet = await waitForQuiet();
  if (quiet.busyCores >= 0.3)
    log(`  machine still busy (${quiet.busyCores.toFixed(2)} cores), starting anyway`);
  const backends = sampleBackendCpu(env.name);
  const cli = await runCli(
    env.env({ LOVDATA_API_URL: emulator.url, LOVDATA_DATASET_FILTER: 'null' }),
    join(env.tmp, `time-${kind}.txt`),
  );
  const postgresCpu = backends.stop();
  const { json } = cli;
  const [dataset, ...others] = json.datasets;
  if (json.run.status !== 'succeeded' || !dataset || others.length > 0 || !dataset.timings) {
    throw new Error(`${kind} run: expected one synced dataset and success, got ${JSON.stringify(json)}`);
  }
  const { downloadMs = 0, decodeWaitMs = 0, readMs = 0, diffMs = 0 } = dataset.timings;
  const span = (
    await env.database.pool.query<{ ms: number; parsed: number; bytes: number }>(
      `SELECT coalesce(extract(epoch FROM max(parsed_at) - min(parsed_at)) * 1000, 0)::float8 AS ms,
              count(*)::int AS parsed, coalesce(sum(new_size), 0)::float8 AS bytes
       FROM file_changes WHERE run_id = $1 AND parse_status = 'succeeded'`,
      [json.run.id],
    )
  ).rows[0]!;
  return {
    kind,
    rep,
    wallMs: cli.wallMs,
    totalMs: json.phases.totalMs,
    downloadMs,
    readMs,
    diffMs,
    parseMs: json.phases.totalMs - downloadMs - decodeWaitMs - readMs - diffMs,
    parseSpanMs: span.ms,
    parsed: span.parsed,
    parsedBytes: span.bytes,
    json,
    cliCpu: cli.cpu,
    cliMaxRss: cli.maxRss,
    postgresCpu,
  };
}

async function main(): Promise<void> {
  const { dir, meta } = await cachedDir('e2e', SPEC, buildCorpus);
  log(
    `corpus: ${meta.files} documents, ${(meta.bytes / MB).toFixed(1)} MB of XML, ` +
      `${(meta.coldArchiveBytes / MB).toFixed(1)} MB tar.bz2; ${meta.edited} edited ` +
      `(${(meta.editedArchiveBytes / MB).toFixed(1)} MB tar.bz2)`,
  );
  const serveDir = join(dir, 'serve');
  await rm(serveDir, { recursive: true, force: true });
  await mkdir(serveDir);
  const emulator = await startEmulator({ dir: serveDir });
  const results: RunResult[] = [];
  try {
    for (let rep = 1; rep <= REPS; rep++) {
      const env = await createTestEnv(`bench_e2e_${rep}`);
      try {
        for (const kind of ['cold', 'incremental'] as const) {
          await serve(
            emulator,
            serveDir,
            join(dir, kind === 'cold' ? 'cold' : 'edited', DATASET),
            kind === 'cold' ? COLD_LAST_MODIFIED : EDITED_LAST_MODIFIED,
          );
          log(`rep ${rep}/${REPS}: ${kind} lovsync run --json`);
          const r = await measuredRun(env, emulator, kind, rep);
          const run = r.json.run;
          log(
            `  ${(r.wallMs / 1000).toFixed(1)} s: ${run.filesAdded} added, ${run.filesModified} modified, ` +
              `${run.filesUnchanged} unchanged; parsed ${run.parseSucceeded}/${run.parseTotal}` +
              `${run.parseFailed ? `, ${run.parseFailed} FAILED` : ''}`,
          );
          results.push(r);
        }
      } finally {
        await env.teardown();
      }
    }
  } finally {
    await emulator.close();
    await rm(serveDir, { recursive: true, force: true });
  }
  report(meta, results);
}

/** `a` when every repetition gave `a`, else `a, b, a`. */
function distinct(values: string[]): string {
  return new Set(values).size === 1 ? `${values[0]!} in every repetition` : values.join(', ');
}

function report(meta: CorpusMeta, results: RunResult[]): void {
  const of = (kind: RunResult['kind']) => results.filter((r) => r.kind === kind);
  const s = (values: number[]) => fmt(values.map((ms) => ms / 1000));
  const cold = of('cold');
  const incremental = of('incremental');
  const median = (rs: RunResult[], f: (r: RunResult) => number) => summarise(rs.map(f)).median;

  process.stdout.write(
    `\nbench/e2e: gjeldende-sentrale-forskrifter-sized corpus: ${meta.files} documents, ` +
      `${(meta.bytes / MB).toFixed(1)} MB of XML, ${(meta.coldArchiveBytes / MB).toFixed(1)} MB tar.bz2 ` +
      `(real: ~3,400 documents, ~21 MB); incremental: ${meta.edited} files edited ` +
      `(${((meta.edited / meta.files) * 100).toFixed(1)}%), ${(meta.editedArchiveBytes / MB).toFixed(1)} MB ` +
      `tar.bz2. \`lovsync run --json\` as a child process, fresh database per repetition; ${REPS} ` +
      `repetition(s), each run started after a quiet moment (< 0.3 cores busy, waited up to 10 s); ` +
      `seconds, median [min–max]\n\n`,
  );
  const phaseRows: [string, (r: RunResult) => number][] = [
    ['wall (child process)', (r) => r.wallMs],
    ['  start-up (node, tsx, migrations)', (r) => r.wallMs - r.totalMs],
    ['  lovsync run total', (r) => r.totalMs],
    ['    download', (r) => r.downloadMs],
    ['    decompress + hash (+ manifest, blobs)', (r) => r.readMs],
    ['    diff', (r) => r.diffMs],
    ['    parse (rest of the run)', (r) => r.parseMs],
    ['    (parse: first..last parsed_at)', (r) => r.parseSpanMs],
  ];
  printTable(
    ['phase', 'cold s', 'incremental s', 'incremental / cold'],
    phaseRows.map(([label, f]) => [
      label,
      s(cold.map(f)),
      s(incremental.map(f)),
      median(cold, f) > 0 ? (median(incremental, f) / median(cold, f)).toFixed(2) : '-',
    ]),
  );
  process.stdout.write('\n');
  printTable(
    ['run', 'files parsed', 'MB parsed', 'CLI CPU s (incl. lbzip2)', 'Postgres CPU s', 'CLI peak RSS MiB'],
    (['cold', 'incremental'] as const).map((kind) => {
      const rs = of(kind);
      return [
        kind,
        fmt(
          rs.map((r) => r.parsed),
          0,
        ),
        fmt(
          rs.map((r) => r.parsedBytes / MB),
          1,
        ),
        fmt(
          rs.map((r) => r.cliCpu),
          1,
        ),
        fmt(
          rs.map((r) => r.postgresCpu),
          1,
        ),
        fmt(
          rs.map((r) => r.cliMaxRss / MiB),
          0,
        ),
      ];
    }),
  );

  // Ratios within each repetition (same database life, neighbouring in time), then their median.
  const ratios = cold.map((c) => incremental.find((i) => i.rep === c.rep)!.wallMs / c.wallMs);
  const ratio = summarise(ratios).median;
  const floor = median(incremental, (r) => r.downloadMs + r.readMs) / median(cold, (r) => r.wallMs);
  process.stdout.write(
    `\nincremental / cold (wall): ${ratios.map((x) => x.toFixed(3)).join(', ')} per repetition; ` +
      `median ${ratio.toFixed(3)}. Of the cold wall time, the incremental run's download + ` +
      `decompress + hash alone is ${(floor * 100).toFixed(0)}%.\n\n`,
  );
  const wrongCold = cold.filter(
    (r) => r.json.run.filesAdded !== meta.files || r.parsed !== meta.files || r.json.run.parseFailed > 0,
  );
  const wrongIncremental = incremental.filter(
    (r) =>
      r.json.run.filesModified !== meta.edited ||
      r.json.run.filesAdded + r.json.run.filesRemoved > 0 ||
      r.parsed !== meta.edited ||
      r.json.run.parseFailed > 0,
  );
  verdict(
    'cold adds and parses every file; incremental modifies and parses exactly the edited ones',
    wrongCold.length + wrongIncremental.length === 0,
    `cold: ${distinct(cold.map((r) => `${r.json.run.filesAdded} added/${r.parsed} parsed`))}; ` +
      `incremental: ${distinct(incremental.map((r) => `${r.json.run.filesModified} modified/${r.parsed} parsed`))} ` +
      `(expected ${meta.files} and ${meta.edited})`,
  );
  verdict(
    'incremental run <= 35% of the cold run',
    ratio <= TARGET,
    `${(ratio * 100).toFixed(1)}% (${(median(incremental, (r) => r.wallMs) / 1000).toFixed(1)} s vs ` +
      `${(median(cold, (r) => r.wallMs) / 1000).toFixed(1)} s, medians)`,
  );
}

await main();
