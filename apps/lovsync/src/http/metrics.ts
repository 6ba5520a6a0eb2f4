import type { Worker } from 'bullmq';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ServiceContext } from '@lovsync/shared/context';
import type { QueueName } from '@lovsync/shared/queues';
import { withTimeout } from './with-timeout.ts';

export interface Metrics {
  registry: Registry;
  /** Given to the parse worker: one observation per finished parse job (outcome from the parser). */
  parseHooks: { onDuration(seconds: number, outcome: string): void };
  /** Counts a worker's completed and failed job attempts in lovsync_jobs_total. */
  watchWorker(w: Worker): void;
}

/** How long a scrape waits for Redis or Postgres before reporting what it has (a scrape must not hang). */
const SCRAPE_QUERY_TIMEOUT_MS = 2_000;

/**
 * The Prometheus metrics of one process, on a registry of its own (no global state, so several
 * servers can live in one test process).
 *
 * lovsync_queue_jobs and lovsync_downloaded_bytes_total are read from Redis / Postgres on every
 * scrape, so they describe the whole deployment, not this replica: every replica reports the same
 * value, aggregate them with max(), not sum(). lovsync_jobs_total and
 * lovsync_parse_duration_seconds are per process: sum() them across replicas.
 */
export function createMetrics(ctx: ServiceContext): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const log = ctx.log.child({ component: 'metrics' });

  const queues: Record<QueueName, { getJobCounts(): Promise<Record<string, number>> }> = {
    sync: ctx.queues.sync,
    diff: ctx.queues.diff,
    parse: ctx.queues.parse,
    deliver: ctx.queues.deliver,
  };

  new Gauge({
    name: 'lovsync_queue_jobs',
    help: 'Jobs in each BullMQ queue by state (deployment-wide, read from Redis at scrape time)',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      const results = await Promise.allSettled(
        Object.entries(queues).map(async ([name, queue]) => {
          const counts = await withTimeout(
            queue.getJobCounts(),
            SCRAPE_QUERY_TIMEOUT_MS,
            `job counts of ${name}`,
          );
          return [name, counts] as const;
        }),
      );
      // A queue whose counts could not be read disappears from this scrape instead of showing stale numbers.
      this.reset();
      for (const r of results) {
        if (r.status === 'rejected') {
          log.debug({ err: (r.reason as Error).message }, 'queue depth not collected');
          continue;
        }
        const [queue, counts] = r.value;
        for (const [state, n] of Object.entries(counts)) this.set({ queue, state }, n);
      }
    },
  });

  const jobs = new Counter({
    name: 'lovsync_jobs_total',
    help: 'Job attempts finished by this process, by queue and outcome (failed counts every failed attempt, retried or not)',
    labelNames: ['queue', 'outcome'] as const,
    registers: [registry],
  });

  const parseDuration = new Histogram({
    name: 'lovsync_parse_duration_seconds',
    help: 'Time to parse one file and commit its rows, by outcome',
    labelNames: ['outcome'] as const,
    // Real laws parse in milliseconds to about a second; the tail buckets catch pathological files.
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });

  new Counter({
    name: 'lovsync_downloaded_bytes_total',
    help: 'Archive bytes downloaded from Lovdata by all syncs (deployment-wide, sum of sync_runs.bytes_downloaded)',
    registers: [registry],
    async collect() {
      try {
        const res = await withTimeout(
          ctx.database.pool.query<{ total: number }>(
            'SELECT COALESCE(sum(bytes_downloaded), 0)::float8 AS total FROM sync_runs',
          ),
          SCRAPE_QUERY_TIMEOUT_MS,
          'downloaded bytes query',
        );
        this.reset();
        this.inc(Number(res.rows[0]?.total ?? 0));
      } catch (err) {
        log.debug({ err: (err as Error).message }, 'downloaded bytes not collected');
      }
    },
  });

  return {
    registry,
    parseHooks: {
      onDuration(seconds, outcome) {
        parseDuration.observe({ outcome }, seconds);
      },
    },
    watchWorker(w) {
      // Label values are bounded: the three queue names and two outcomes.
      for (const outcome of ['completed', 'failed'] as const) jobs.inc({ queue: w.name, outcome }, 0);
      w.on('completed', () => jobs.inc({ queue: w.name, outcome: 'completed' }));
      w.on('failed', () => jobs.inc({ queue: w.name, outcome: 'failed' }));
    },
  };
}
