/**
 * Child process of bench/sync.ts: one forced sync of the archives the emulator at LOVDATA_API_URL
 * lists, into DATABASE_URL, then the diff job of each manifested dataset, in this process (no
 * workers). Runs in its own process so its peak RSS (VmHWM) is the pipeline's alone.
 */
import { processDiffJob, type DiffJobResult } from '@lovsync/differ';
import { parseConfig } from '@lovsync/shared/config';
import { createLogger } from '@lovsync/shared/logger';
import { runSync } from '@lovsync/sync';
import { createRuntime } from '../../packages/cli/src/runtime.ts';
import { peakRss, reportResult } from './proc.ts';

export interface SyncPhaseResult {
  syncMs: number;
  diffMs: number;
  /** VmHWM after the sync (download, decompress, hash, blobs, manifest), bytes. */
  syncPeakRss: number;
  /** VmHWM after the diff too, bytes. */
  peakRss: number;
  files: number;
  timings: Record<string, number>;
  diff: DiffJobResult;
}

const config = parseConfig(process.env);
const rt = createRuntime(config, {
  log: createLogger({ level: config.LOG_LEVEL, pretty: false }),
  service: 'bench-sync',
});
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
    files: dataset.files ?? 0,
    timings: dataset.timings ?? {},
    diff,
  };
  reportResult(result);
} finally {
  await rt.close();
}
