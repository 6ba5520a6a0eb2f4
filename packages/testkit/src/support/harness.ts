/**
 * Integration test harness: every test file gets its own freshly migrated PostgreSQL database and its
 * own BullMQ key prefix on the real Redis, so files run in parallel and leave nothing behind.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import { parseConfig, type Config } from '@lovsync/shared/config';
import { createDatabase, runMigrations, type Database } from '@lovsync/shared/db';
import { createLogger, type Logger } from '@lovsync/shared/logger';

export const PG_ADMIN_URL = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface TestEnv {
  name: string;
  databaseUrl: string;
  prefix: string;
  tmp: string;
  database: Database;
  log: Logger;
  /** Builds a Config for this test's database and prefix, with overrides. */
  config(overrides?: Record<string, string>): Config;
  /** The env vars a child process needs to use this test's database and prefix. */
  env(overrides?: Record<string, string>): Record<string, string>;
  teardown(): Promise<void>;
}

export async function createTestEnv(label: string): Promise<TestEnv> {
  const name = `lovsync_test_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
  const dbUrl = new URL(PG_ADMIN_URL);
  dbUrl.pathname = `/${name}`;
  const databaseUrl = dbUrl.toString();
  await runMigrations(databaseUrl);
  const database = createDatabase(databaseUrl, { max: 10, applicationName: `test-${label}` });
  const prefix = `lovsync-test-${name}`;
  const tmp = await mkdtemp(join(tmpdir(), `${name}-`));
  const log = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent', pretty: false });
  const baseEnv = (overrides: Record<string, string> = {}): Record<string, string> => ({
    DATABASE_URL: databaseUrl,
    REDIS_URL,
    QUEUE_PREFIX: prefix,
    RAW_DATA_DIR: join(tmp, 'raw'),
    LOVDATA_DATASET_FILTER: 'null',
    POLL_INTERVAL_SECONDS: '0',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...overrides,
  });
  return {
    name,
    databaseUrl,
    prefix,
    tmp,
    database,
    log,
    config: (overrides) => parseConfig(baseEnv(overrides)),
    env: baseEnv,
    async teardown() {
      await database.close().catch(() => undefined);
      await dropDatabase(name);
      await deleteRedisPrefix(prefix);
      await rm(tmp, { recursive: true, force: true });
    },
  };
}

async function dropDatabase(name: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

export async function deleteRedisPrefix(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
