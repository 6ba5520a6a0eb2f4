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

/** Redis did not answer within the bound: the one line a command prints before it exits non-zero. */
export class RedisUnavailableError extends Error {
  constructor(url: string, seconds: number, cause: string | undefined, lost = false) {
    super(
      `${lost ? 'lost Redis' : 'cannot reach Redis'} at REDIS_URL=${redactUrl(url)} ${lost ? 'for' : 'within'} ${seconds} s${cause ? ` (${cause})` : ''}; ` +
        'start Redis or point REDIS_URL at it (REDIS_CONNECT_TIMEOUT_SECONDS sets the bound)',
    );
    this.name = 'RedisUnavailableError';
  }
}

/**
 * Resolves once Redis answers PING, or throws RedisUnavailableError after `seconds`. Commands call
 * it before they create workers and queues, so a Redis that is down ends them with one line instead
 * of an endless reconnect loop.
 */
export async function assertRedisReachable(url: string, seconds: number): Promise<void> {
  const redis = createRedis(url, 'producer', {
    lazyConnect: true,
    retryStrategy: (times) => Math.min(times * 200, 1_000),
  });
  let lastError: string | undefined;
  redis.on('error', (err: Error) => {
    lastError = err.message;
  });
  const deadline = Date.now() + seconds * 1000;
  try {
    const ready = new Promise<void>((resolve) => redis.once('ready', () => resolve()));
    redis.connect().catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), Math.max(0, deadline - Date.now()));
    });
    const outcome = await Promise.race([ready, timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') throw new RedisUnavailableError(url, seconds, lastError);
    await redis.ping();
  } finally {
    redis.disconnect();
  }
}

/**
 * Calls `onLost` once the connection has not been ready for `seconds` in a row (a Redis that went
 * away mid-run). Returns a stop function.
 */
export function watchRedis(
  redis: Redis,
  url: string,
  seconds: number,
  onLost: (err: RedisUnavailableError) => void,
): () => void {
  let downSince: number | null = null;
  let lastError: string | undefined;
  const onError = (err: Error) => {
    lastError = err.message;
  };
  redis.on('error', onError);
  const timer = setInterval(() => {
    if (redis.status === 'ready') {
      downSince = null;
      return;
    }
    downSince ??= Date.now();
    if (Date.now() - downSince >= seconds * 1000) {
      clearInterval(timer);
      onLost(new RedisUnavailableError(url, seconds, lastError, true));
    }
  }, 250);
  timer.unref();
  return () => {
    clearInterval(timer);
    redis.off('error', onError);
  };
}
