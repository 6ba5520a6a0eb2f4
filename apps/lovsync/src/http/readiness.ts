import type { Redis } from 'ioredis';
import type pg from 'pg';
import { withTimeout } from './with-timeout.ts';

export interface ReadinessReport {
  ready: boolean;
  shuttingDown: boolean;
  checks: { postgres: CheckResult; redis: CheckResult };
}

export interface CheckResult {
  ok: boolean;
  ms: number;
  error?: string;
}

/** A dependency that does not answer within this bound counts as down. */
export const READINESS_TIMEOUT_MS = 2_000;

async function timed(what: string, fn: () => Promise<unknown>): Promise<CheckResult> {
  const started = performance.now();
  try {
    await withTimeout(fn(), READINESS_TIMEOUT_MS, what);
    return { ok: true, ms: Math.round(performance.now() - started) };
  } catch (err) {
    return { ok: false, ms: Math.round(performance.now() - started), error: (err as Error).message };
  }
}

/**
 * Readiness: not shutting down, Postgres answers `SELECT 1` and Redis answers PING, each within
 * READINESS_TIMEOUT_MS. Concurrent probes share one check in flight, so a slow dependency and a
 * frequent prober cannot pile up connections or queued commands.
 */
export function createReadinessCheck(deps: { pool: pg.Pool; redis: Redis; isShuttingDown(): boolean }) {
  let inFlight: Promise<ReadinessReport['checks']> | undefined;
  const runChecks = async () => {
    const [postgres, redis] = await Promise.all([
      timed('postgres', () => deps.pool.query('SELECT 1')),
      timed('redis', async () => {
        // A connection still being (re)established gets the rest of the bound to come up: without an
        // offline queue a PING sent before 'ready' fails at once, which is not "Redis is down".
        if (
          deps.redis.status === 'connecting' ||
          deps.redis.status === 'connect' ||
          deps.redis.status === 'reconnecting'
        ) {
          await new Promise<void>((resolve) => {
            deps.redis.once('ready', resolve);
            setTimeout(resolve, READINESS_TIMEOUT_MS).unref();
          });
        }
        return deps.redis.ping();
      }),
    ]);
    return { postgres, redis };
  };
  return async (): Promise<ReadinessReport> => {
    if (deps.isShuttingDown()) {
      const skipped = { ok: false, ms: 0, error: 'not checked: shutting down' };
      return { ready: false, shuttingDown: true, checks: { postgres: skipped, redis: skipped } };
    }
    inFlight ??= runChecks().finally(() => {
      inFlight = undefined;
    });
    const checks = await inFlight;
    const shuttingDown = deps.isShuttingDown();
    return { ready: !shuttingDown && checks.postgres.ok && checks.redis.ok, shuttingDown, checks };
  };
}
