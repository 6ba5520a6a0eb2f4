import type { Worker } from 'bullmq';
import type { Config } from '@lovsync/shared/config';
import { runMigrations } from '@lovsync/shared/db';
import { createLogger } from '@lovsync/shared/logger';
import { redactUrl } from '@lovsync/shared/redis';
import { createRuntime, type Runtime } from '@lovsync/shared/runtime';
import { startHttpServer, type HttpServer } from '../http/server.ts';
import { createMetrics } from '../http/metrics.ts';
import { startRole, type Role } from './roles.ts';

export type { Role } from './roles.ts';

/** Exit code after a second signal or when active jobs outlast SHUTDOWN_TIMEOUT_SECONDS. */
export const EXIT_FORCED = 1;

/**
 * `lovsync serve --role ...`: long-running workers plus an HTTP server (health, metrics; the
 * dashboard and API with role sync or all).
 *
 * SIGTERM/SIGINT: /readyz answers 503 at once (while /healthz and the server stay up), the workers
 * stop taking jobs and the active ones finish within SHUTDOWN_TIMEOUT_SECONDS, then the HTTP server,
 * queues, Redis and the pg pool close and the process exits 0. A signal during start-up is honoured
 * the same way once start-up got that far. Exit EXIT_FORCED instead:
 *   - on a second signal, at once;
 *   - when the active jobs have not finished within the bound.
 * A job cut off like that keeps its lock until it lapses, then BullMQ retries it on another worker
 * (effects are idempotent), so no job is lost either way.
 */
export async function serve(config: Config, role: Role): Promise<void> {
  const log = createLogger({ level: config.LOG_LEVEL }).child({ service: role });
  const workers: Worker[] = [];
  const stoppers: (() => void)[] = [];
  let rt: Runtime | undefined;
  let http: HttpServer | undefined;
  let shuttingDown = false;

  /** Stops timers, lets the workers finish their active jobs, closes the server and connections. */
  const closeAll = async () => {
    for (const stop of stoppers.splice(0)) stop();
    await Promise.all(workers.map((w) => w.close()));
    await http?.close();
    await rt?.close();
  };

  let startup: Promise<void> = Promise.resolve();
  const onSignal = (signal: NodeJS.Signals) => {
    if (shuttingDown) {
      log.warn({ signal }, 'second signal: exiting now; active jobs are retried once their locks lapse');
      process.exit(EXIT_FORCED);
    }
    shuttingDown = true;
    const started = Date.now();
    log.info(
      { signal, timeoutSeconds: config.SHUTDOWN_TIMEOUT_SECONDS },
      'shutting down: readiness off, no new jobs, finishing active jobs',
    );
    const hard = setTimeout(() => {
      log.error(
        { timeoutSeconds: config.SHUTDOWN_TIMEOUT_SECONDS },
        'shutdown timed out; exiting with active jobs left to stall and be retried',
      );
      process.exit(EXIT_FORCED);
    }, config.SHUTDOWN_TIMEOUT_SECONDS * 1000);
    hard.unref();
    void (async () => {
      try {
        await startup.catch(() => undefined);
        await closeAll();
      } catch (err) {
        log.error({ err: (err as Error).message }, 'shutdown failed');
        process.exit(EXIT_FORCED);
      }
      clearTimeout(hard);
      log.info({ ms: Date.now() - started }, 'shutdown complete');
      process.exit(0);
    })();
  };
  // Installed before anything starts, so a signal during start-up (migrations, connecting) is a
  // graceful shutdown too rather than the default kill.
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  startup = (async () => {
    await runMigrations(config.DATABASE_URL);
    if (shuttingDown) return;
    rt = createRuntime(config, { log, service: role });
    const ctx = rt;
    const metrics = createMetrics(ctx);
    // The HTTP server comes first: while Redis is down the workers below wait for it (reconnecting
    // with backoff) and /readyz answers 503 naming Redis, instead of the service being unreachable.
    http = await startHttpServer(ctx, {
      dashboard: role === 'sync' || role === 'all',
      metrics,
      isShuttingDown: () => shuttingDown,
    });
    const waiting = setInterval(() => {
      if (ctx.workerConnection.status !== 'ready')
        log.warn(
          { redis: redactUrl(config.REDIS_URL) },
          'waiting for Redis (REDIS_URL); /readyz reports not ready',
        );
    }, 10_000);
    waiting.unref();
    stoppers.push(() => clearInterval(waiting));
    await startRole(
      ctx,
      role,
      { workers, stoppers },
      {
        parseHooks: metrics.parseHooks,
        isShuttingDown: () => shuttingDown,
      },
    );
    for (const w of workers) metrics.watchWorker(w);
    log.info(
      { role, port: http.port, host: http.host, workers: workers.map((w) => w.name) },
      'lovsync serving',
    );
  })();

  try {
    await startup;
  } catch (err) {
    if (shuttingDown) return; // the signal handler closes what was started and exits
    // e.g. the HTTP port is taken: do not leave workers running without health checks.
    log.error({ err: (err as Error).message }, 'start-up failed');
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    await Promise.race([
      closeAll().catch(() => undefined),
      new Promise((resolve) => setTimeout(resolve, config.SHUTDOWN_TIMEOUT_SECONDS * 1000).unref()),
    ]);
    throw err;
  }
}
