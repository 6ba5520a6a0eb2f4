import type { Worker } from 'bullmq';
import type { Config } from '@lovsync/shared/config';
import { runMigrations } from '@lovsync/shared/db';
import { createSyncWorker, startPoller, upsertSyncSchedule } from '@lovsync/sync';
import { createDiffWorker, reconcile, startReconciler } from '@lovsync/differ';
import { createParseWorker } from '@lovsync/parser';
import { createRuntime } from './runtime.ts';
import { startHttpServer } from './http/server.ts';
import { createMetrics } from './http/metrics.ts';

export type Role = 'sync' | 'differ' | 'parser' | 'all';

/**
 * `lovsync serve --role ...`: long-running workers plus an HTTP server (health, metrics; the
 * dashboard and API with role sync or all). SIGTERM/SIGINT: readiness fails, workers stop taking
 * jobs and finish the active ones within SHUTDOWN_TIMEOUT_SECONDS, then queues, Redis and the pool
 * close and the process exits 0. A second signal exits at once.
 */
export async function serve(config: Config, role: Role): Promise<void> {
  await runMigrations(config.DATABASE_URL);
  const rt = createRuntime(config, { service: role });
  const log = rt.log;
  const metrics = createMetrics(rt);
  const workers: Worker[] = [];
  const stoppers: (() => void)[] = [];
  if (role === 'sync' || role === 'all') {
    workers.push(await createSyncWorker(rt));
    await upsertSyncSchedule(rt);
    const poller = startPoller(rt);
    stoppers.push(poller.stop);
  }
  if (role === 'differ' || role === 'all') {
    workers.push(createDiffWorker(rt));
    await reconcile(rt).catch((err: Error) => log.warn({ err: err.message }, 'initial reconcile failed'));
    stoppers.push(startReconciler(rt).stop);
  }
  if (role === 'parser' || role === 'all') {
    workers.push(createParseWorker(rt, { hooks: metrics.parseHooks }));
  }
  for (const w of workers) metrics.watchWorker(w);
  let shuttingDown = false;
  const http = await startHttpServer(rt, {
    dashboard: role === 'sync' || role === 'all',
    metrics,
    isShuttingDown: () => shuttingDown,
  });
  log.info(
    { role, port: http.port, host: http.host, workers: workers.map((w) => w.name) },
    'lovsync serving',
  );

  const shutdown = async (signal: string) => {
    if (shuttingDown) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    shuttingDown = true;
    log.info({ signal }, 'shutting down: readiness off, finishing active jobs');
    const hard = setTimeout(() => {
      log.error('shutdown timed out; exiting with active jobs left to stall and retry');
      process.exit(1);
    }, config.SHUTDOWN_TIMEOUT_SECONDS * 1000);
    hard.unref();
    for (const stop of stoppers) stop();
    await Promise.all(workers.map((w) => w.close()));
    await http.close();
    await rt.close();
    clearTimeout(hard);
    log.info('shutdown complete');
    process.exit(0);
  };
  process.on('SIGTERM', (s) => void shutdown(s));
  process.on('SIGINT', (s) => void shutdown(s));
}
