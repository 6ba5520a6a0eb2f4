import { Redis, type RedisOptions } from 'ioredis';

/**
 * One factory for every Redis connection.
 * - `worker`: BullMQ workers and the blocking connections they own must never give up on a command
 *   (`maxRetriesPerRequest: null`), they wait for Redis to come back.
 * - `producer`: code behind an HTTP request must fail fast when Redis is down instead of queueing
 *   commands in memory (`enableOfflineQueue: false`).
 */
export type RedisRole = 'worker' | 'producer';

export function createRedis(url: string, role: RedisRole, extra: RedisOptions = {}): Redis {
  const common: RedisOptions = {
    lazyConnect: false,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
    ...extra,
  };
  return role === 'worker'
    ? new Redis(url, { ...common, maxRetriesPerRequest: null })
    : new Redis(url, { ...common, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
}

/** Redacts the password of a connection string before it is logged. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '[unparseable url]';
  }
}
