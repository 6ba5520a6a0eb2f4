/**
 * bench/scale (issue 7): parse throughput, database writes included, on the same backlog with 1, 2
 * and 4 parser processes (PARSER_CONCURRENCY=8 each, the default), and one process with PARSER_CONCURRENCY 1
 * vs 4. The corpus is ~50 MB of XML from syntheticCorpus (18 copies of the 21 fixtures).
 *
 * The backlog (blobs + pending file_changes) is made once by runSync + processDiffJob into a
 * template database; every scenario runs on its own copy (CREATE DATABASE ... TEMPLATE) with its
 * own Redis prefix: the parser processes start first, then the pending parse jobs are enqueued and
 * the clock runs until no file_changes row of the run is pending. Scenarios are interleaved
 * round by round; figures are medians over the rounds and the ratios come from this script only.
 *
 * CPU seconds (utime + stime from /proc) of the parser processes, of the Postgres backends of the
 * scenario's database, of Redis and of Postgres's background processes are taken over the same
 * interval, with the whole machine's, so the curve can be read against the cores there are (and
 * other sessions' load told apart). Each timed drain starts after a quiet moment of the machine
 * (bench/lib/quiet.ts), once the parser processes are up and idle.
 *
 *   pnpm bench:scale           (REPS=3 rounds by default)
 */
import type { ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { enqueuePendingParses } from '@lovsync/differ';
import { parseConfig } from '@lovsync/shared/config';
import { createRuntime } from '@lovsync/shared/runtime';
import { buildTarBz2, syntheticCorpus } from '@lovsync/testkit/archive/archive-builder';
import { contentSize } from '@lovsync/testkit/archive/archive-entry';
import { createTestEnv, deleteRedisPrefix, type TestEnv } from '@lovsync/testkit/support/harness';
import { startWorkerProcess, stopProcess } from '@lovsync/testkit/support/processes';
import { cloneDatabase, dropDatabase, makeBacklog, pendingParses, waitUntilParsed } from './lib/backlog.ts';
import { machineCpuSeconds, postgresBackendCpuSeconds, processCpuSeconds } from './lib/cpu.ts';
import { peakRss } from './lib/proc.ts';
import { waitForQuiet } from './lib/quiet.ts';
import { serverCpuSeconds } from './lib/server-cpu.ts';
import { fmt, log, MB, MiB, printTable, summarise, verdict } from './lib/stats.ts';
import { cachedDir } from './lib/work.ts';

const REPS = Number(process.env.REPS ?? 3);
const COPIES = 18; // 18 x 2.77 MB of fixtures
const DATASET = 'lovdata-scale-bench.tar.bz2';
const SPEC = `scale-v1 ${JSON.stringify({ COPIES })}`;

interface CorpusMeta {
  files: number;
  bytes: number;
  archiveBytes: number;
}

interface Scenario {
  label: string;
  processes: number;
  concurrency: number;
}

const BASELINE = '1 process x 8';
const SCENARIOS: Scenario[] = [
  { label: BASELINE, processes: 1, concurrency: 8 },
  { label: '2 processes x 8', processes: 2, concurrency: 8 },
  { label: '4 processes x 8', processes: 4, concurrency: 8 },
  { label: '1 process x 1', processes: 1, concurrency: 1 },
];

interface Result extends Scenario {
  round: number;
  ms: number;
  bytes: number;
  files: number;
  failed: number;
  /** CPU seconds of each parser process while the backlog drained (all threads, GC included). */
  workerCpu: number[];
  /** CPU seconds of the Postgres backends of the scenario's database meanwhile. */
  postgresCpu: number;
  /** CPU seconds of redis-server meanwhile (shared: other sessions' load included). */
  redisCpu: number;
  /** CPU seconds of Postgres's postmaster and background processes (WAL writer, ...; shared too). */
  postgresAuxCpu: number;
  /** CPU seconds of this script meanwhile (enqueueing, polling). */
  selfCpu: number;
  /** Busy CPU seconds of the whole machine meanwhile (other sessions' load included). */
  machineBusyCpu: number;
  peakRss: number[];
}

async function buildCorpus(dir: string): Promise<CorpusMeta> {
  log('building the scale corpus (cached in bench/.work/scale)...');
  const entries = [...syntheticCorpus({ copies: COPIES })];
  const { bytes: archiveBytes } = await buildTarBz2(entries, join(dir, DATASET));
  return { files: entries.length, bytes: entries.reduce((n, e) => n + contentSize(e), 0), archiveBytes };
}

async function runScenario(env: TestEnv, runId: number, s: Scenario, round: number): Promise<Result> {
  const tag = `${s.processes}p${s.concurrency}c_${round}`;
  const name = `${env.name}_${tag}`;
  const prefix = `${env.prefix}-${tag}`;
  const overrides = {
    DATABASE_URL: await cloneDatabase(env, name),
    QUEUE_PREFIX: prefix,
    PARSER_CONCURRENCY: String(s.concurrency),
  };
  const rt = createRuntime(parseConfig(env.env(overrides)), { log: env.log, service: 'bench' });
  const workers: ChildProcess[] = [];
  try {
    const { pool } = rt.database;
    const { bytes, files } = await pendingParses(pool, runId);
    workers.push(
      ...(await Promise.all(
        Array.from({ length: s.processes }, () => startWorkerProcess('parser', env.env(overrides))),
      )),
    );
    const quiet = await waitForQuiet();
    if (quiet.busyCores >= 0.3)
      log(`  machine still busy (${quiet.busyCores.toFixed(2)} cores), starting anyway`);
    const machine0 = machineCpuSeconds();
    const workerCpu0 = workers.map((w) => processCpuSeconds(w.pid!));
    const postgresCpu0 = postgresBackendCpuSeconds(name);
    const server0 = serverCpuSeconds();
    const self0 = process.cpuUsage();
    const t0 = performance.now();
    await enqueuePendingParses(pool, rt.queues, runId);
    const failed = await waitUntilParsed(pool, runId, { intervalMs: 50 });
    const ms = performance.now() - t0;
    // Read before the workers stop: their backends (and their CPU counters) go with them.
    const self = process.cpuUsage(self0);
    const server = serverCpuSeconds();
    const result: Result = {
      ...s,
      round,
      ms,
      bytes,
      files,
      failed,
      workerCpu: workers.map((w, i) => processCpuSeconds(w.pid!) - workerCpu0[i]!),
      postgresCpu: postgresBackendCpuSeconds(name) - postgresCpu0,
      redisCpu: server.redis - server0.redis,
      postgresAuxCpu: server.postgresAux - server0.postgresAux,
      selfCpu: (self.user + self.system) / 1e6,
      machineBusyCpu: machineCpuSeconds().busy - machine0.busy,
      peakRss: workers.map((w) => peakRss(w.pid!)),
    };
    return result;
  } finally {
    await Promise.all(workers.map((w) => stopProcess(w)));
    await rt.close();
    await dropDatabase(name);
    await deleteRedisPrefix(prefix);
  }
}

async function main(): Promise<void> {
  const { dir, meta } = await cachedDir('scale', SPEC, buildCorpus);
  log(
    `corpus: ${meta.files} files, ${(meta.bytes / MB).toFixed(1)} MB of XML ` +
      `(${(meta.archiveBytes / MB).toFixed(1)} MB tar.bz2)`,
  );
  const env = await createTestEnv('bench_scale');
  const results: Result[] = [];
  try {
    log('making the backlog: runSync + processDiffJob into the template database...');
    const runId = await makeBacklog(env, dir);
    for (let round = 1; round <= REPS; round++) {
      // Rotate the order each round so no scenario always runs first (or right after the heaviest).
      const order = SCENARIOS.map((_, i) => SCENARIOS[(i + round - 1) % SCENARIOS.length]!);
      for (const s of order) {
        log(`round ${round}/${REPS}: ${s.label}`);
        const r = await runScenario(env, runId, s, round);
        log(
          `  ${r.files} files, ${(r.bytes / MB).toFixed(1)} MB in ${(r.ms / 1000).toFixed(1)} s; CPU s: ` +
            `parser ${r.workerCpu.map((c) => c.toFixed(1)).join('+')}, Postgres ${r.postgresCpu.toFixed(1)}, ` +
            `machine ${r.machineBusyCpu.toFixed(1)}${r.failed ? `; ${r.failed} FAILED` : ''}`,
        );
        results.push(r);
      }
    }
  } finally {
    await env.teardown();
  }
  report(meta, results);
}

function report(meta: CorpusMeta, results: Result[]): void {
  const cores = availableParallelism();
  const of = (label: string) => results.filter((r) => r.label === label);
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const median = (rs: Result[], f: (r: Result) => number) => summarise(rs.map(f)).median;
  const seconds = (r: Result) => r.ms / 1000;
  const mbps = (r: Result) => r.bytes / MB / seconds(r);
  const parser = (r: Result) => sum(r.workerCpu);
  /** CPU of the pipeline itself: parser processes, their Postgres backends, Redis (BullMQ). */
  const pipeline = (r: Result) => parser(r) + r.postgresCpu + r.redisCpu;
  const ours = (r: Result) => pipeline(r) + r.postgresAuxCpu + r.selfCpu;
  const rest = (r: Result) => Math.max(0, r.machineBusyCpu - ours(r));
  const baseMbps = median(of(BASELINE), mbps);
  const baseBest = Math.max(...of(BASELINE).map(mbps));

  process.stdout.write(
    `\nbench/scale: ${meta.files} files, ${(meta.bytes / MB).toFixed(1)} MB of XML ` +
      `(${(meta.archiveBytes / MB).toFixed(1)} MB tar.bz2), all pending in a fresh copy of the same ` +
      `database per scenario; ${REPS} round(s), order rotated per round; median [min–max], best round = highest MB/s of the rounds; each timed drain starts after a quiet moment (< 0.3 cores busy, waited up to 10 s); ` +
      `MB = 10^6 bytes; ${cores} cores\n\n`,
  );
  printTable(
    [
      'scenario',
      'wall s',
      'MB/s',
      'files/s',
      'speedup vs 1 process x 8',
      'best-round speedup',
      'VmHWM MiB (largest process)',
    ],
    SCENARIOS.map((s) => {
      const rs = of(s.label);
      return [
        s.label,
        fmt(rs.map(seconds), 1),
        fmt(rs.map(mbps), 2),
        fmt(
          rs.map((r) => r.files / seconds(r)),
          1,
        ),
        `${(median(rs, mbps) / baseMbps).toFixed(2)}x`,
        `${(Math.max(...rs.map(mbps)) / baseBest).toFixed(2)}x`,
        (median(rs, (r) => Math.max(...r.peakRss)) / MiB).toFixed(0),
      ];
    }),
  );

  process.stdout.write(
    `\nwhere the CPU went: medians of CPU seconds (utime+stime from /proc) over the drain; ${cores} cores = ` +
      `${cores} CPU-s per wall second. Redis and the Postgres background processes are shared with other ` +
      `sessions; "rest of machine" is everything else that ran (other sessions' tests and builds). ` +
      `pipeline = parser + PG backends + Redis; ceiling = ${cores} cores / pipeline CPU-s per MB.\n\n`,
  );
  printTable(
    [
      'scenario',
      'parser',
      'PG backends',
      'Redis',
      'PG background',
      'this script',
      'rest of machine (cores)',
      'pipeline cores busy',
      'parser CPU-s/MB',
      'PG CPU-s/MB',
      'ceiling MB/s',
    ],
    SCENARIOS.map((s) => {
      const rs = of(s.label);
      const perMb = (f: (r: Result) => number) => median(rs, (r) => f(r) / (r.bytes / MB));
      return [
        s.label,
        median(rs, parser).toFixed(1),
        median(rs, (r) => r.postgresCpu).toFixed(1),
        median(rs, (r) => r.redisCpu).toFixed(1),
        median(rs, (r) => r.postgresAuxCpu).toFixed(1),
        median(rs, (r) => r.selfCpu).toFixed(1),
        `${median(rs, rest).toFixed(1)} (${median(rs, (r) => rest(r) / seconds(r)).toFixed(2)})`,
        median(rs, (r) => pipeline(r) / seconds(r)).toFixed(2),
        perMb(parser).toFixed(3),
        perMb((r) => r.postgresCpu).toFixed(3),
        (cores / perMb(pipeline)).toFixed(1),
      ];
    }),
  );
  const failed = sum(results.map((r) => r.failed));
  if (failed) process.stdout.write(`\n${failed} parse job(s) failed\n`);
  process.stdout.write('\n');

  const speed = (label: string) => median(of(label), mbps);
  for (const label of ['2 processes x 8', '4 processes x 8']) {
    process.stdout.write(
      `${label}: ${(speed(label) / baseMbps).toFixed(2)}x one process ` +
        `(${speed(label).toFixed(2)} vs ${baseMbps.toFixed(2)} MB/s)\n`,
    );
  }
  const c1 = speed('1 process x 1');
  const base = of(BASELINE);
  const busy = median(base, (r) => pipeline(r) / seconds(r));
  const others = median(base, (r) => rest(r) / seconds(r));
  process.stdout.write(
    `1 process, PARSER_CONCURRENCY 8 vs 1: ${(baseMbps / c1).toFixed(2)}x ` +
      `(${baseMbps.toFixed(2)} vs ${c1.toFixed(2)} MB/s)\n` +
      `1 process x 8 keeps ${busy.toFixed(2)} of ${cores} cores busy with the pipeline (parser + its Postgres ` +
      `backends + Redis), so idle cores would allow at most ${(cores / busy).toFixed(2)}x; meanwhile ` +
      `other load took ${others.toFixed(2)} cores on average\n\n`,
  );
  verdict('every scenario parsed every file', failed === 0, `${failed} failed`);
}

await main();
