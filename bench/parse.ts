/**
 * bench/parse (issue 5): parser throughput, database writes included, on a >= 100 MB corpus built
 * from the fixtures (distinct synthetic copies, 5% of them with an edited ledd), against bare sax
 * tokenising of the same files (no handlers; the issue's baseline), bare saxes (the tokenizer the
 * parser uses since sax could not reach the target; see the README) and `xmllint --stream --noout`
 * over the same files on disk, in the same script; 1 vs 2 parser processes; peak RSS (VmHWM) of each parser process at
 * two corpus sizes.
 *
 * The backlog (blobs + pending file_changes) is made once by runSync + processDiffJob into a
 * template database; every scenario runs on its own copy (CREATE DATABASE ... TEMPLATE) with its
 * own Redis prefix: the worker processes start first, then the pending parse jobs are enqueued and
 * the clock runs until no file_changes row of the run is pending. Baseline rounds are interleaved
 * with the scenarios.
 *
 * The 50% corpus (every other file, for the RSS comparison) runs in the first round only; 1 and 2 processes run in
 * every round.
 *
 *   pnpm bench:parse           (REPS=2 rounds by default; PROFILE=1 adds a CPU profile summary)
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import sax from 'sax';
import { SaxesParser } from 'saxes';
import { enqueuePendingParses } from '@lovsync/differ';
import { parseConfig } from '@lovsync/shared/config';
import { createRuntime } from '@lovsync/shared/runtime';
import { buildTarBz2, syntheticCorpus } from '@lovsync/testkit/archive/archive-builder';
import { contentSize } from '@lovsync/testkit/archive/archive-entry';
import { createTestEnv, deleteRedisPrefix, type TestEnv } from '@lovsync/testkit/support/harness';
import { startWorkerProcess, stopProcess } from '@lovsync/testkit/support/processes';
import {
  machineCpuSeconds,
  mainThreadCpuSeconds,
  mainThreadRunQueueSeconds,
  postgresBackendCpuSeconds,
  processCpuSeconds,
} from './lib/cpu.ts';
import { summariseProfiles, type ProfileSummary } from './lib/cpuprofile.ts';
import { peakRss, startWorkerWithFlags, timeShell } from './lib/proc.ts';
import { fmt, log, MB, MiB, printTable, summarise, verdict } from './lib/stats.ts';
import { cloneDatabase, dropDatabase, makeBacklog, waitUntilParsed } from './lib/backlog.ts';
import { cachedDir, WORK_DIR } from './lib/work.ts';

/** xmllint (Debian libxml2-utils) is an optional baseline: the bench runs without it. */
const HAVE_XMLLINT = !spawnSync('xmllint', ['--version'], { stdio: 'ignore' }).error;

const REPS = Number(process.env.REPS ?? 2);
/** PROFILE=1: the parser processes run with --cpu-prof; a summary follows the table (slower runs). */
const PROFILE = process.env.PROFILE === '1';
const COPIES = 37; // 37 x 2.77 MB of fixtures
const EDIT_FRACTION = 0.05;
const SEED = 1;
const DATASET = 'lovdata-parse-bench.tar.bz2';
/** PARSER_CONCURRENCY's default; BENCH_PARSER_CONCURRENCY=4 measures the earlier default. */
const CONCURRENCY = process.env.BENCH_PARSER_CONCURRENCY ?? '8';
const SPEC = `parse-v1 ${JSON.stringify({ COPIES, EDIT_FRACTION, SEED })}`;
const TARGET_VS_SAX = 0.6;
const TARGET_SCALING = 1.6;
/**
 * RSS counts as flat when doubling the corpus grows the peak by less than this (growth with the
 * corpus would be +100%; runs at the same size differ by up to ~10% here).
 */
const FLAT_TOLERANCE = 0.2;

interface CorpusMeta {
  files: number;
  bytes: number;
  paths: string[];
}

interface Scenario {
  label: string;
  processes: number;
  /** Fraction of the corpus left pending: every (1/fraction)-th file (0.5: every other one). */
  fraction: number;
}

interface ScenarioResult extends Scenario {
  ms: number;
  bytes: number;
  files: number;
  failed: number;
  peakRss: number[];
  /** VmHWM of the first process after 25, 50, 75 and 100% of the files. */
  rssAtQuarters: number[];
  /** CPU seconds of each parser process while the backlog drained (all threads, GC included). */
  workerCpu: number[];
  /** CPU seconds of each parser process's main (JavaScript) thread meanwhile. */
  mainCpu: number[];
  /** Seconds each parser process's main thread was runnable but waited for a core meanwhile. */
  mainWait: number[];
  /** CPU seconds of the PostgreSQL backends of the scenario's database meanwhile. */
  postgresCpu: number;
  /** Busy fraction of all cores of the machine while the backlog drained (other load included). */
  machineBusy: number;
  profile?: ProfileSummary;
  /** The bare sax run just before this scenario (same round), and the round. */
  saxMs?: number;
  round?: number;
}

async function buildCorpus(dir: string): Promise<CorpusMeta> {
  log('building the parse corpus (cached in bench/.work/parse)...');
  const entries = [...syntheticCorpus({ copies: COPIES, editFraction: EDIT_FRACTION, seed: SEED })];
  for (const entry of entries) {
    const file = join(dir, 'xml', entry.path);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, entry.content as Buffer);
  }
  await mkdir(join(dir, 'archive'));
  await buildTarBz2(entries, join(dir, 'archive', DATASET));
  return {
    files: entries.length,
    bytes: entries.reduce((n, e) => n + contentSize(e), 0),
    paths: entries.map((e) => e.path),
  };
}

async function runScenario(env: TestEnv, runId: number, s: Scenario, round: number): Promise<ScenarioResult> {
  const name = `${env.name}_${s.label.replace(/\W/g, '_')}_${round}`;
  const prefix = `${env.prefix}-${s.label.replace(/\W/g, '_')}-${round}`;
  const databaseUrl = await cloneDatabase(env, name);
  const overrides = { DATABASE_URL: databaseUrl, QUEUE_PREFIX: prefix, PARSER_CONCURRENCY: CONCURRENCY };
  const profileDir = join(WORK_DIR, 'profiles', `${s.label.replace(/\W/g, '_')}-${round}`);
  if (PROFILE) await rm(profileDir, { recursive: true, force: true });
  const rt = createRuntime(parseConfig(env.env(overrides)), { log: env.log, service: 'bench' });
  const workers: ChildProcess[] = [];
  try {
    const { pool } = rt.database;
    if (s.fraction < 1) {
      // Every k-th file stays pending (k = 1 / fraction): the smaller corpus has the same mix of
      // documents, largest ones included, so only its volume differs.
      await pool.query(
        `WITH c AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM file_changes WHERE run_id = $1)
         UPDATE file_changes SET parse_status = 'succeeded', parse_error = 'bench: outside the smaller corpus'
         WHERE id IN (SELECT id FROM c WHERE n % round(1 / $2::float8)::int <> 0)`,
        [runId, s.fraction],
      );
    }
    const { bytes, files } = (
      await pool.query<{ bytes: number; files: number }>(
        `SELECT sum(new_size)::float8 AS bytes, count(*)::int AS files FROM file_changes
         WHERE run_id = $1 AND parse_status = 'pending'`,
        [runId],
      )
    ).rows[0]!;
    workers.push(
      ...(await Promise.all(
        Array.from({ length: s.processes }, () =>
          PROFILE
            ? startWorkerWithFlags('parser', env.env(overrides), [
                '--cpu-prof',
                `--cpu-prof-dir=${profileDir}`,
              ])
            : startWorkerProcess('parser', env.env(overrides)),
        ),
      )),
    );
    const machine0 = machineCpuSeconds();
    const workerCpu0 = workers.map((w) => processCpuSeconds(w.pid!));
    const mainCpu0 = workers.map((w) => mainThreadCpuSeconds(w.pid!));
    const mainWait0 = workers.map((w) => mainThreadRunQueueSeconds(w.pid!));
    const postgresCpu0 = postgresBackendCpuSeconds(name);
    const t0 = performance.now();
    await enqueuePendingParses(pool, rt.queues, runId);
    // The first process's VmHWM when a quarter, half, three quarters and all of the backlog is done.
    const rssAtQuarters: number[] = [];
    const failed = await waitUntilParsed(pool, runId, {
      onPoll: (pending) => {
        const done = 1 - pending / files;
        while (rssAtQuarters.length < 4 && done >= (rssAtQuarters.length + 1) / 4) {
          rssAtQuarters.push(peakRss(workers[0]!.pid!));
        }
      },
    });
    const ms = performance.now() - t0;
    const machine1 = machineCpuSeconds();
    const result: ScenarioResult = {
      ...s,
      ms,
      bytes,
      files,
      failed,
      peakRss: workers.map((w) => peakRss(w.pid!)),
      rssAtQuarters,
      workerCpu: workers.map((w, i) => processCpuSeconds(w.pid!) - workerCpu0[i]!),
      mainCpu: workers.map((w, i) => mainThreadCpuSeconds(w.pid!) - mainCpu0[i]!),
      mainWait: workers.map((w, i) => mainThreadRunQueueSeconds(w.pid!) - mainWait0[i]!),
      postgresCpu: postgresBackendCpuSeconds(name) - postgresCpu0,
      machineBusy: (machine1.busy - machine0.busy) / (machine1.total - machine0.total),
    };
    await Promise.all(workers.splice(0).map((w) => stopProcess(w)));
    if (PROFILE) result.profile = await summariseProfiles(profileDir);
    return result;
  } finally {
    await Promise.all(workers.map((w) => stopProcess(w)));
    await rt.close();
    await dropDatabase(name);
    await deleteRedisPrefix(prefix);
  }
}

/** Bare sax: one strict parser per file, no handlers, the whole file decoded and written at once. */
function bareSax(buffers: Buffer[]): number {
  const t0 = performance.now();
  for (const buffer of buffers) sax.parser(true).write(buffer.toString('utf8')).close();
  return performance.now() - t0;
}

/** Bare saxes (the parser's tokenizer), the same way: defaults, no handlers. */
function bareSaxes(buffers: Buffer[]): number {
  const t0 = performance.now();
  for (const buffer of buffers) new SaxesParser().write(buffer.toString('utf8')).close();
  return performance.now() - t0;
}

async function main(): Promise<void> {
  const { dir, meta } = await cachedDir('parse', SPEC, buildCorpus);
  log(`corpus: ${meta.files} files, ${(meta.bytes / MB).toFixed(1)} MB of XML`);
  const xmlDir = join(dir, 'xml');
  const buffers = await Promise.all(meta.paths.map((p) => readFile(join(xmlDir, p))));
  const xmllint = `cd ${xmlDir} && xmllint --stream --noout ${meta.paths.join(' ')}`;

  const env = await createTestEnv('bench_parse');
  const base = { sax: [] as number[], saxes: [] as number[], xmllint: [] as number[] };
  const results: ScenarioResult[] = [];
  try {
    log('making the backlog: runSync + processDiffJob into the template database...');
    const runId = await makeBacklog(env, join(dir, 'archive'));
    const scenarios: Scenario[] = [
      { label: '1 process, 50% corpus', processes: 1, fraction: 0.5 },
      { label: '1 process', processes: 1, fraction: 1 },
      { label: '2 processes', processes: 2, fraction: 1 },
    ];
    for (let round = 1; round <= REPS; round++) {
      for (const s of scenarios.filter((x) => round === 1 || x.fraction === 1)) {
        log(`round ${round}/${REPS}: bare sax, bare saxes${HAVE_XMLLINT ? ', xmllint --stream' : ''}`);
        const saxMs = bareSax(buffers);
        base.sax.push(saxMs);
        base.saxes.push(bareSaxes(buffers));
        if (HAVE_XMLLINT) base.xmllint.push(await timeShell(xmllint));
        log(`round ${round}/${REPS}: parser, ${s.label} (PARSER_CONCURRENCY=${CONCURRENCY})`);
        const r = await runScenario(env, runId, s, round);
        log(
          `  ${r.files} files, ${(r.bytes / MB).toFixed(1)} MB in ${(r.ms / 1000).toFixed(1)} s, ` +
            `${r.failed} failed, VmHWM ${r.peakRss.map((b) => (b / MiB).toFixed(0)).join(' + ')} MiB`,
        );
        results.push({ ...r, saxMs, round });
      }
    }
  } finally {
    await env.teardown();
  }
  report(meta, base, results);
}

function report(
  meta: CorpusMeta,
  base: { sax: number[]; saxes: number[]; xmllint: number[] },
  results: ScenarioResult[],
): void {
  const mbps = (bytes: number, ms: number) => bytes / MB / (ms / 1000);
  const of = (label: string) => results.filter((r) => r.label === label);
  const saxMbps = base.sax.map((ms) => mbps(meta.bytes, ms));
  const xmllintMbps = base.xmllint.map((ms) => mbps(meta.bytes, ms));
  const saxesMbps = base.saxes.map((ms) => mbps(meta.bytes, ms));
  const saxMedian = summarise(saxMbps).median;
  const rows: string[][] = [
    [
      'bare sax (sax.parser(true), no handlers)',
      `${(meta.bytes / MB).toFixed(1)}`,
      fmt(base.sax.map((ms) => ms / 1000)),
      fmt(saxMbps, 1),
      '1.00',
      '-',
    ],
    [
      "bare saxes (the parser's tokenizer, no handlers)",
      `${(meta.bytes / MB).toFixed(1)}`,
      fmt(base.saxes.map((ms) => ms / 1000)),
      fmt(saxesMbps, 1),
      (summarise(saxesMbps).median / saxMedian).toFixed(2),
      '-',
    ],
  ];
  if (base.xmllint.length > 0)
    rows.push([
      'xmllint --stream --noout (files on disk)',
      `${(meta.bytes / MB).toFixed(1)}`,
      fmt(base.xmllint.map((ms) => ms / 1000)),
      fmt(xmllintMbps, 1),
      (summarise(xmllintMbps).median / saxMedian).toFixed(2),
      '-',
    ]);
  else
    rows.push(['xmllint --stream --noout: not installed (libxml2-utils), left out', '-', '-', '-', '-', '-']);
  const speed: Record<string, number> = {};
  for (const label of [...new Set(results.map((r) => r.label))]) {
    const rs = of(label);
    const speeds = rs.map((r) => mbps(r.bytes, r.ms));
    speed[label] = summarise(speeds).median;
    rows.push([
      `parser, ${label} (x${CONCURRENCY} jobs each)`,
      (rs[0]!.bytes / MB).toFixed(1),
      fmt(rs.map((r) => r.ms / 1000)),
      fmt(speeds, 1),
      (speed[label]! / saxMedian).toFixed(2),
      rs.map((r) => r.peakRss.map((b) => (b / MiB).toFixed(0)).join('+')).join(', '),
    ]);
  }
  process.stdout.write(
    `\nbench/parse: ${meta.files} files, ${(meta.bytes / MB).toFixed(1)} MB of XML; ${REPS} round(s), ` +
      `PARSER_CONCURRENCY=${CONCURRENCY}; ` +
      `baselines repeated before each scenario; s and MB/s median [min–max]; MB = 10^6 bytes\n\n`,
  );
  printTable(['pipeline', 'MB', 's', 'MB/s', 'vs bare sax', 'VmHWM MiB (per process)'], rows);
  process.stdout.write(
    '\nwhere the time went (CPU seconds from /proc; 2 cores = 2 CPU-s per wall second):\n\n',
  );
  printTable(
    [
      'scenario',
      'wall s',
      'parser CPU s (per process)',
      'of it JS thread',
      'JS thread waiting for a core s',
      'Postgres CPU s',
      'machine busy',
    ],
    results.map((r) => [
      r.label,
      (r.ms / 1000).toFixed(1),
      r.workerCpu.map((c) => c.toFixed(1)).join(' + '),
      r.mainCpu.map((c) => `${c.toFixed(1)} (${((c / (r.ms / 1000)) * 100).toFixed(0)}% busy)`).join(' + '),
      r.mainWait.map((c) => c.toFixed(1)).join(' + '),
      r.postgresCpu.toFixed(1),
      `${(r.machineBusy * 100).toFixed(0)}%`,
    ]),
  );
  for (const label of PROFILE ? ['1 process', '2 processes'] : []) {
    const p = of(label)[0]!.profile!;
    const pct = (ms: number) => `${((ms / p.busyMs) * 100).toFixed(1)}%`;
    process.stdout.write(
      `\ncpu profile, ${label}, round 1: main threads busy ${(p.busyMs / 1000).toFixed(1)} s, idle ` +
        `${(p.idleMs / 1000).toFixed(1)} s (start-up included); shares of the busy time:\n\n`,
    );
    printTable(
      ['area (self time)', 'share'],
      p.areas.map((a) => [a.area, pct(a.ms)]),
    );
    process.stdout.write('\n');
    printTable(
      ['function (self time)', 'area', 'share'],
      p.functions.map((f) => [f.name, f.area, pct(f.ms)]),
    );
  }
  const failed = results.reduce((n, r) => n + r.failed, 0);
  if (failed) process.stdout.write(`\n${failed} parse job(s) failed\n`);
  process.stdout.write('\n');

  const one = speed['1 process']!;
  const two = speed['2 processes']!;
  const singles = of('1 process');
  // The machine's speed drifts over minutes here, so each parser run is also compared with the bare
  // sax run just before it (same round, same bytes), and 2 processes with 1 process of the same
  // round; the verdicts use the medians of these paired ratios, the medians above are printed too.
  const pairedVsSax = summarise(singles.map((r) => r.saxMs! / r.ms));
  const pairedScaling = summarise(
    of('2 processes').map((r) => singles.find((x) => x.round === r.round)!.ms / r.ms),
  );
  const vsSax = pairedVsSax.median;
  const parserCpu = summarise(singles.map((r) => r.workerCpu[0]!)).median;
  const saxSeconds = summarise(base.sax).median / 1000;
  verdict(
    '1 process >= 60% of bare sax MB/s',
    vsSax >= TARGET_VS_SAX,
    `${(vsSax * 100).toFixed(0)}% (median of ${singles.length} rounds, each against the bare sax run before it: ` +
      `${singles.map((r) => `${((r.saxMs! / r.ms) * 100).toFixed(0)}%`).join(', ')}; medians of all runs: ` +
      `${((one / saxMedian) * 100).toFixed(0)}%, ${one.toFixed(1)} vs ${saxMedian.toFixed(1)} MB/s)` +
      (vsSax < TARGET_VS_SAX ? `; short by ${((TARGET_VS_SAX - vsSax) * 100).toFixed(0)} points` : '') +
      `; the parser process used ${parserCpu.toFixed(1)} CPU-s, ${(parserCpu / saxSeconds).toFixed(1)}x ` +
      `bare sax's ${saxSeconds.toFixed(1)} s`,
  );
  const cores = availableParallelism();
  const busyCores = summarise(
    singles.map((r) => (r.workerCpu.reduce((a, b) => a + b, 0) + r.postgresCpu) / (r.ms / 1000)),
  ).median;
  verdict(
    '2 processes >= 1.6x one',
    pairedScaling.median >= TARGET_SCALING,
    `${pairedScaling.median.toFixed(2)}x (median of the rounds' 2-vs-1 ratios; medians of all runs: ` +
      `${(two / one).toFixed(2)}x, ${two.toFixed(1)} vs ${one.toFixed(1)} MB/s); 1 process already keeps ` +
      `${busyCores.toFixed(2)} cores busy (parser + Postgres), so ${cores} cores allow at most ` +
      `${(cores / busyCores).toFixed(2)}x`,
  );
  const medianPeak = (label: string) => summarise(of(label).map((r) => r.peakRss[0]!)).median;
  const small = medianPeak('1 process, 50% corpus');
  const full = medianPeak('1 process');
  const growth = full / small - 1;
  const mib = (b: number) => (b / MiB).toFixed(0);
  const quarters = of('1 process')[0]!.rssAtQuarters.map(mib).join(' / ');
  verdict(
    'RSS flat as the corpus grows',
    growth < FLAT_TOLERANCE,
    `1 process VmHWM ${mib(small)} MiB at ${(of('1 process, 50% corpus')[0]!.bytes / MB).toFixed(0)} MB, ` +
      `${mib(full)} MiB at ${(of('1 process')[0]!.bytes / MB).toFixed(0)} MB ` +
      `(${growth >= 0 ? '+' : ''}${(growth * 100).toFixed(0)}%); ` +
      `VmHWM after 25/50/75/100% of the ${(of('1 process')[0]!.bytes / MB).toFixed(0)} MB: ${quarters} MiB`,
  );
}

await main();
