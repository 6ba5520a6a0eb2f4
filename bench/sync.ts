/**
 * bench/sync (issue 3): cold and incremental sync of a ~300 MB (uncompressed), ~12,000-file
 * Lovdata-like tar.bz2 served by the emulator on loopback, against `curl | lbzip2 -dc -n2 | tar x`
 * of the same archive in the same script (plus `... | lbzip2 -dc -n2 > /dev/null`, the decoder
 * floor). Rounds are interleaved (C, ours cold, C, ours incremental), each round on a fresh
 * database; dirty pages are written back (`sync`) before every timed step. Ours runs in a child
 * process (bench/lib/sync-phase.ts) whose VmHWM is its peak RSS; it stores every new content in
 * Postgres (blobs) where the C pipeline writes every file to disk.
 *
 *   pnpm bench:sync            (REPS=3 by default; REPS=n to change)
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startEmulator, type Emulator } from '@lovsync/testkit/emulator/server';
import { createTestEnv, type TestEnv } from '@lovsync/testkit/support/harness';
import { runNodeChild, timeShell } from './lib/proc.ts';
import type { SyncPhaseResult } from './lib/sync-phase.ts';
import { fmt, log, MB, MiB, printTable, summarise, verdict } from './lib/stats.ts';
import { buildCorpusPair, type CorpusMeta } from './lib/tiered-corpus.ts';
import { cachedDir, WORK_DIR } from './lib/work.ts';

const REPS = Number(process.env.REPS ?? 3);
const DATASET = 'lovdata-bench.tar.bz2';
const EDIT_FRACTION = 0.01;
const EDIT_SEED = 2;
const TARGET_COLD = 2.0;
const TARGET_INCREMENTAL = 1.5;
const TARGET_RSS = 300 * MiB;

/**
 * Copies per fixture, by its size: the 21 fixtures average 132 kB (one is 1.5 MB) while the real
 * archives average ~23 kB per file, so the small fixtures are copied far more often than the
 * large ones. 1000 is the cap for distinct synthetic identities (MAX_SYNTHETIC_COPIES).
 */
const TIERS = [
  { maxBytes: 40_000, copies: 1000 },
  { maxBytes: 250_000, copies: 80 },
  { maxBytes: Infinity, copies: 10 },
];
const SPEC = `sync-v1 ${JSON.stringify({ TIERS, EDIT_FRACTION, EDIT_SEED })}`;

const buildCorpus = (dir: string): Promise<CorpusMeta> =>
  buildCorpusPair(dir, {
    label: 'sync',
    tiers: TIERS,
    dataset: DATASET,
    editFraction: EDIT_FRACTION,
    editSeed: EDIT_SEED,
  });

async function cPipeline(emulator: Emulator, rep: number): Promise<number> {
  const out = join(WORK_DIR, `sync-extract-${rep}`);
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
  await flushDisk();
  try {
    return await timeShell(
      `curl -sf ${emulator.url}/v1/publicData/get/${DATASET} | lbzip2 -dc -n2 | tar x -C ${out}`,
    );
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

/** Writes back dirty pages, so that one step's disk writes are not paid by the next one. */
async function flushDisk(): Promise<void> {
  await timeShell('sync');
}

/** The decompression floor: the same download and decoder, output discarded. */
function decompressOnly(emulator: Emulator): Promise<number> {
  return timeShell(`curl -sf ${emulator.url}/v1/publicData/get/${DATASET} | lbzip2 -dc -n2 > /dev/null`);
}

/** One forced sync + diff by lovsync, in a child process (bench/lib/sync-phase.ts). */
async function oursPhase(env: TestEnv, emulator: Emulator): Promise<SyncPhaseResult> {
  await flushDisk();
  return runNodeChild<SyncPhaseResult>(
    'bench/lib/sync-phase.ts',
    [],
    env.env({ LOVDATA_API_URL: emulator.url }),
  );
}

async function main(): Promise<void> {
  const { dir, meta } = await cachedDir('sync', SPEC, buildCorpus);
  log(
    `corpus: ${meta.files} files, ${(meta.bytes / MB).toFixed(1)} MB uncompressed, ` +
      `${(meta.coldArchiveBytes / MB).toFixed(1)} MB tar.bz2; incremental: ${meta.edited} files edited`,
  );
  const emuCold = await startEmulator({ dir: join(dir, 'cold') });
  const emuEdited = await startEmulator({ dir: join(dir, 'edited') });
  const c = { cold: [] as number[], edited: [] as number[], floor: [] as number[] };
  const ours = { cold: [] as SyncPhaseResult[], incremental: [] as SyncPhaseResult[] };
  try {
    for (let rep = 1; rep <= REPS; rep++) {
      log(`round ${rep}/${REPS}: C pipeline (cold archive)`);
      c.cold.push(await cPipeline(emuCold, rep));
      c.floor.push(await decompressOnly(emuCold));
      const env = await createTestEnv(`bench_sync_${rep}`);
      try {
        log(`round ${rep}/${REPS}: ours, cold sync + diff into a fresh database`);
        ours.cold.push(await oursPhase(env, emuCold));
        log(`round ${rep}/${REPS}: C pipeline (edited archive)`);
        c.edited.push(await cPipeline(emuEdited, rep));
        log(`round ${rep}/${REPS}: ours, incremental sync + diff`);
        ours.incremental.push(await oursPhase(env, emuEdited));
      } finally {
        await env.teardown();
      }
    }
  } finally {
    await emuCold.close();
    await emuEdited.close();
  }
  report(meta, c, ours);
}

function report(
  meta: CorpusMeta,
  c: { cold: number[]; edited: number[]; floor: number[] },
  ours: { cold: SyncPhaseResult[]; incremental: SyncPhaseResult[] },
): void {
  const mbps = (ms: number[]) =>
    fmt(
      ms.map((t) => meta.bytes / MB / (t / 1000)),
      1,
    );
  const secs = (ms: number[]) => fmt(ms.map((t) => t / 1000));
  /** Ratio of medians, with the [min–max] of the per-round ratios. */
  const ratio = (mine: number[], base: number[]) => {
    const r = summarise(mine).median / summarise(base).median;
    const paired = summarise(mine.map((m, i) => m / base[i]!));
    return { r, text: `${r.toFixed(2)}x [${paired.min.toFixed(2)}–${paired.max.toFixed(2)}]` };
  };
  const rss = (rs: number[]) =>
    fmt(
      rs.map((b) => b / MiB),
      0,
    );
  const coldSync = ours.cold.map((r) => r.syncMs);
  const incSync = ours.incremental.map((r) => r.syncMs);
  const coldTotal = ours.cold.map((r) => r.syncMs + r.diffMs);
  const incTotal = ours.incremental.map((r) => r.syncMs + r.diffMs);
  const rCold = ratio(coldSync, c.cold);
  const rInc = ratio(incSync, c.edited);
  const peak = Math.max(...[...ours.cold, ...ours.incremental].map((r) => r.peakRss));

  process.stdout.write(
    `\nbench/sync: ${meta.files} files, ${(meta.bytes / MB).toFixed(1)} MB uncompressed ` +
      `(${(meta.coldArchiveBytes / MB).toFixed(1)} MB tar.bz2), ${REPS} interleaved rounds, ` +
      `medians [min–max]; MB = 10^6 bytes, RSS in MiB\n\n`,
  );
  printTable(
    ['pipeline', 's', 'MB/s', 'vs C (same round)', 'peak RSS MiB'],
    [
      ['C: curl | lbzip2 -dc -n2 | tar x (cold archive)', secs(c.cold), mbps(c.cold), '1.00x', '-'],
      [
        'C: curl | lbzip2 -dc -n2 > /dev/null (floor)',
        secs(c.floor),
        mbps(c.floor),
        ratio(c.floor, c.cold).text,
        '-',
      ],
      [
        'ours cold: runSync --force (fresh DB)',
        secs(coldSync),
        mbps(coldSync),
        rCold.text,
        rss(ours.cold.map((r) => r.syncPeakRss)),
      ],
      ['  of which download (loopback)', secs(ours.cold.map((r) => r.timings.downloadMs ?? NaN)), '', '', ''],
      [
        '  of which decompress+hash+blobs+manifest',
        secs(ours.cold.map((r) => r.timings.readMs ?? NaN)),
        '',
        '',
        '',
      ],
      [
        'ours cold: diff job (processDiffJob)',
        secs(ours.cold.map((r) => r.diffMs)),
        '',
        '',
        rss(ours.cold.map((r) => r.peakRss)),
      ],
      ['ours cold: sync + diff', secs(coldTotal), mbps(coldTotal), ratio(coldTotal, c.cold).text, ''],
      ['C: same pipeline (edited archive)', secs(c.edited), mbps(c.edited), '1.00x', '-'],
      [
        `ours incremental: runSync --force (${meta.edited} edited)`,
        secs(incSync),
        mbps(incSync),
        rInc.text,
        rss(ours.incremental.map((r) => r.syncPeakRss)),
      ],
      [
        '  of which download (loopback)',
        secs(ours.incremental.map((r) => r.timings.downloadMs ?? NaN)),
        '',
        '',
        '',
      ],
      [
        '  of which decompress+hash+blobs+manifest',
        secs(ours.incremental.map((r) => r.timings.readMs ?? NaN)),
        '',
        '',
        '',
      ],
      [
        'ours incremental: diff job',
        secs(ours.incremental.map((r) => r.diffMs)),
        '',
        '',
        rss(ours.incremental.map((r) => r.peakRss)),
      ],
      ['ours incremental: sync + diff', secs(incTotal), mbps(incTotal), ratio(incTotal, c.edited).text, ''],
    ],
  );
  const inc = ours.incremental[0]!.diff;
  process.stdout.write(
    `\nincremental diff found: ${inc.added} added, ${inc.modified} modified, ${inc.removed} removed, ` +
      `${inc.unchanged} unchanged (expected ${meta.edited} modified)\n\n`,
  );
  const worst = [...ours.cold, ...ours.incremental].reduce((a, b) => (b.peakRss > a.peakRss ? b : a));
  const m = (b: number) => `${(b / MiB).toFixed(0)}`;
  process.stdout.write(
    `memory: RSS ${m(worst.startRss)} MiB once loaded and connected; at the highest sampled RSS ` +
      `(${m(worst.atPeak.rss)} MiB): V8 heap used ${m(worst.atPeak.heapUsed)} ` +
      `of ${m(worst.atPeak.heapTotal)} MiB, external ${m(worst.atPeak.external)} MiB ` +
      `(array buffers ${m(worst.atPeak.arrayBuffers)} MiB)\n\n`,
  );
  verdict('cold sync <= 2.0x C pipeline', rCold.r <= TARGET_COLD, `${rCold.r.toFixed(2)}x`);
  verdict('incremental sync <= 1.5x C pipeline', rInc.r <= TARGET_INCREMENTAL, `${rInc.r.toFixed(2)}x`);
  verdict('peak RSS < 300 MiB', peak < TARGET_RSS, `max VmHWM ${(peak / MiB).toFixed(0)} MiB`);
}

await main();
