import { Gauge, type Registry } from 'prom-client';
import type pg from 'pg';
import type { Logger } from '@lovsync/shared/logger';
import { withTimeout } from './with-timeout.ts';

const RUN_STATUSES = ['running', 'succeeded', 'partial', 'failed'] as const;

interface AlertState {
  /** Epoch seconds of the newest succeeded run's finish; 0 when no run has succeeded yet. */
  lastSuccess: number;
  /** Status of the newest run (by id), null before the first run. */
  lastStatus: (typeof RUN_STATUSES)[number] | null;
  /** Epoch seconds of the newest finished run's finish (any status); 0 before the first. */
  lastFinished: number;
  /** file_changes rows still waiting for their parse, over all runs. */
  parseBacklog: number;
  datasets: { name: string; ageSeconds: number }[];
}

/**
 * What an alert needs, read from Postgres (the truth, deployment-wide) at scrape time, one read per
 * scrape shared by the gauges:
 *
 *   lovsync_last_successful_run_timestamp_seconds   finish of the newest succeeded run (0 = never):
 *       `time() - lovsync_last_successful_run_timestamp_seconds > 2 * 86400`
 *   lovsync_last_run_finished_timestamp_seconds     finish of the newest finished run, any status
 *   lovsync_last_run_status{status}                 1 for the newest run's status, 0 for the others:
 *       `lovsync_last_run_status{status="failed"} == 1`
 *   lovsync_parse_backlog                           file_changes rows whose parse is pending
 *   lovsync_dataset_last_modified_age_seconds{dataset}  now - the lastModified of the version
 *       committed for each listed dataset (Lovdata rebuilds daily: > ~2 days means no new data)
 *
 * A scrape whose read fails or takes longer than `timeoutMs` leaves these series out rather than
 * reporting stale values.
 */
export function registerAlertMetrics(
  registry: Registry,
  deps: { pool: Pick<pg.Pool, 'query'>; log: Logger; timeoutMs: number },
): void {
  // Gauges of one scrape are collected concurrently: they share the read in flight, and the next
  // scrape reads anew (a time window would hand a quick second scrape the first one's values).
  let pending: Promise<AlertState> | undefined;
  const read = (): Promise<AlertState> => {
    if (!pending) {
      const state = withTimeout(readState(deps.pool), deps.timeoutMs, 'alert metrics query');
      pending = state;
      const clear = () => {
        if (pending === state) pending = undefined;
      };
      state.then(clear, clear);
    }
    return pending;
  };
  const collectInto = (fill: (state: AlertState) => void) =>
    async function (this: Gauge) {
      this.reset();
      try {
        fill(await read());
      } catch (err) {
        deps.log.debug({ err: (err as Error).message }, 'alert metrics not collected');
      }
    };

  const lastSuccess: Gauge = new Gauge({
    name: 'lovsync_last_successful_run_timestamp_seconds',
    help: 'Unix time the newest succeeded run finished (0 when no run has succeeded yet)',
    registers: [registry],
    collect: collectInto((s) => lastSuccess.set(s.lastSuccess)),
  });
  const lastFinished: Gauge = new Gauge({
    name: 'lovsync_last_run_finished_timestamp_seconds',
    help: 'Unix time the newest finished run (any status) finished (0 before the first)',
    registers: [registry],
    collect: collectInto((s) => lastFinished.set(s.lastFinished)),
  });
  const lastStatus: Gauge<'status'> = new Gauge({
    name: 'lovsync_last_run_status',
    help: "1 for the newest run's status (running, succeeded, partial, failed), 0 for the others",
    labelNames: ['status'] as const,
    registers: [registry],
    collect: collectInto((s) => {
      for (const status of RUN_STATUSES) lastStatus.set({ status }, s.lastStatus === status ? 1 : 0);
    }),
  });
  const backlog: Gauge = new Gauge({
    name: 'lovsync_parse_backlog',
    help: 'Changed files whose parse is still pending, over all runs (file_changes rows)',
    registers: [registry],
    collect: collectInto((s) => backlog.set(s.parseBacklog)),
  });
  const age: Gauge<'dataset'> = new Gauge({
    name: 'lovsync_dataset_last_modified_age_seconds',
    help: 'Seconds since the lastModified of the version committed for each listed dataset',
    labelNames: ['dataset'] as const,
    registers: [registry],
    collect: collectInto((s) => {
      for (const d of s.datasets) age.set({ dataset: d.name }, d.ageSeconds);
    }),
  });
}

async function readState(pool: Pick<pg.Pool, 'query'>): Promise<AlertState> {
  const [runs, datasets] = await Promise.all([
    pool.query<{
      lastSuccess: number;
      lastStatus: AlertState['lastStatus'];
      lastFinished: number;
      backlog: number;
    }>(
      `SELECT
         COALESCE((SELECT extract(epoch FROM max(finished_at)) FROM sync_runs WHERE status = 'succeeded'), 0)::float8 AS "lastSuccess",
         COALESCE((SELECT extract(epoch FROM max(finished_at)) FROM sync_runs WHERE finished_at IS NOT NULL), 0)::float8 AS "lastFinished",
         (SELECT status FROM sync_runs ORDER BY id DESC LIMIT 1) AS "lastStatus",
         (SELECT count(*) FROM file_changes WHERE parse_status = 'pending')::float8 AS backlog`,
    ),
    pool.query<{ name: string; ageSeconds: number }>(
      `SELECT name, extract(epoch FROM now() - last_modified)::float8 AS "ageSeconds"
       FROM datasets WHERE listed AND last_modified IS NOT NULL ORDER BY name`,
    ),
  ]);
  const r = runs.rows[0]!;
  return {
    lastSuccess: r.lastSuccess,
    lastFinished: r.lastFinished,
    lastStatus: r.lastStatus,
    parseBacklog: r.backlog,
    datasets: datasets.rows,
  };
}
