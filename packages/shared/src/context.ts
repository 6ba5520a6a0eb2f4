import type { Redis } from 'ioredis';
import type { BlobStore } from './blob-store.ts';
import type { Config } from './config.ts';
import type { Database } from './db/client.ts';
import type { Logger } from './logger.ts';
import type { Queues } from './queues/index.ts';

/** What every service handler is given: no module reaches for globals. */
export interface ServiceContext {
  config: Config;
  log: Logger;
  database: Database;
  blobs: BlobStore;
  queues: Queues;
  /** Connection for BullMQ workers (maxRetriesPerRequest: null). */
  workerConnection: Redis;
}
