/**
 * Child process of bench/sync.ts: one forced sync of the archives the emulator at LOVDATA_API_URL
 * lists, into DATABASE_URL, then the diff job of each manifested dataset, in this process (no
 * workers). Runs in its own process so its peak RSS (VmHWM) is the pipeline's alone.
 */
import { processDiffJob } from '@lovsync/differ';
import { parseConfig } from '@lovsync/shared/config';
import { createLogger } from '@lovsync/shared/logger';
import { runSync } from '@lovsync/sync';
import { createRuntime } from '@lovsync/shared/runtime';
import { peakRss, reportResult } from './proc.ts';

export interface SyncPhaseResult {
  syncMs: number;
  diffMs: number;
  /** VmHWM after the sync (download, decompress, hash, blobs, manifest), bytes. */
  syncPeakRss: number;
  /** VmHWM after the diff too, bytes. */
  peakRss: number;
  /** RSS once modules are loaded and the runtime connected, before the sync, bytes. */
  startRss: number;
  /** process.memoryUsage() at the highest RSS sampled every 50 ms, bytes: what the peak is made of. */
  atPeak: NodeJS.MemoryUsage;
  files: number;
  timings: Record<string, number>;
  diff: Awaited<ReturnType<typeof processDiffJob>>;
}

const config = parseConfig(process.env);
const rt = createRuntime(config, {
  log: createLogger({ level: config.LOG_LEVEL, pretty: false }),
  service: 'bench-sync',
});
await rt.database.pool.query('SELECT 1');
const startRss = process.memoryUsage().rss;
let atPeak = process.memoryUsage();
const sampler = setInterval(() => {
  const now = process.memoryUsage();
  if (now.rss > atPeak.rss) atPeak = now;
}, 50);
try {
  const t0 = performance.now();
  const run = await runSync(rt, { trigger: 'manual', force: true, requestedAt: new Date().toISOString() });
  const syncMs = performance.now() - t0;
  const syncPeakRss = peakRss();
  const [dataset, ...others] = run.results;
  if (!dataset || others.length > 0 || dataset.outcome !== 'manifested') {
    throw new Error(`expected one manifested dataset, got ${JSON.stringify(run.results)}`);
  }
  const t1 = performance.now();
  const diff = await processDiffJob(rt, { runId: run.runId, dataset: dataset.dataset, vanished: false });
  const result: SyncPhaseResult = {
    syncMs,
    diffMs: performance.now() - t1,
    syncPeakRss,
    peakRss: peakRss(),
    startRss,
    atPeak,
    files: dataset.files ?? 0,
    timings: dataset.timings ?? {},
    diff,
  };
  reportResult(result);
} finally {
  clearInterval(sampler);
  await rt.close();
}
