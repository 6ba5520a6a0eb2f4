import type { Config } from './config.ts';
import { postgresBlobStore } from './blob-store.ts';
import type { ServiceContext } from './context.ts';
import { createDatabase } from './db/client.ts';
import { createLogger, type Logger } from './logger.ts';
import { createQueues } from './queues/index.ts';
import { createRedis } from './redis.ts';

export interface Runtime extends ServiceContext {
  close(): Promise<void>;
}

/** Wires config -> logger, Postgres pool, Redis connections, queues and blob store. */
export function createRuntime(
  config: Config,
  opts: { log?: Logger; service?: string; poolSize?: number } = {},
): Runtime {
  const log =
    opts.log ??
    createLogger({ level: config.LOG_LEVEL, stderr: true }).child({ service: opts.service ?? 'lovsync' });
  const database = createDatabase(config.DATABASE_URL, {
    max: opts.poolSize ?? Math.max(10, config.PARSER_CONCURRENCY + 4),
    applicationName: `lovsync-${opts.service ?? 'cli'}`,
  });
  const workerConnection = createRedis(config.REDIS_URL, 'worker');
  // The queues' own connection waits for Redis like the workers do: workers enqueue follow-up jobs
  // (diff -> parse) that must not be dropped. Code behind HTTP requests uses a producer connection
  // of its own that fails fast (apps/lovsync/src/http).
  const queueConnection = createRedis(config.REDIS_URL, 'worker');
  workerConnection.on('error', (err) => log.debug({ err: err.message }, 'redis connection error'));
  queueConnection.on('error', (err) => log.debug({ err: err.message }, 'redis connection error'));
  const queues = createQueues(queueConnection, config.QUEUE_PREFIX, (err, queue) =>
    log.debug({ queue, err: err.message }, 'queue error'),
  );
  return {
    config,
    log,
    database,
    blobs: postgresBlobStore(database.pool),
    queues,
    workerConnection,
    async close() {
      // Bounded: with Redis gone, closing the queues would wait for it.
      await Promise.race([
        queues.close().catch(() => undefined),
        new Promise((r) => setTimeout(r, 2_000).unref()),
      ]);
      queueConnection.disconnect();
      workerConnection.disconnect();
      await database.close().catch(() => undefined);
    },
  };
}
