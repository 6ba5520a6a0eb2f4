import { describe, expect, it } from 'vitest';
import { parseConfig, ConfigError } from './config.ts';
import { diffJobId, diffJobSchema, parseJobId, parseJobSchema, syncJobSchema } from './queues/index.ts';

describe('config', () => {
  it('has the documented defaults', () => {
    const c = parseConfig({});
    expect(c).toMatchObject({
      LOVDATA_API_URL: 'https://api.lovdata.no',
      LOVDATA_DATASET_FILTER: 'gjeldende',
      LOVDATA_API_TIMEOUT: 30,
      LOVDATA_MAX_DOWNLOAD_CONCURRENCY: 4,
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/lovsync',
      REDIS_URL: 'redis://127.0.0.1:6379',
      RAW_DATA_DIR: './data/raw',
      SYNC_CRON: '0 2 * * *',
      SYNC_TZ: 'Europe/Oslo',
      POLL_INTERVAL_SECONDS: 300,
      PARSER_CONCURRENCY: 8,
      PARSE_FAILURE_THRESHOLD: 0.5,
      HTTP_PORT: 3000,
      LOG_LEVEL: 'info',
    });
    expect(c.EXTRACT_DIR).toBeUndefined();
    expect(c.DASHBOARD_USER).toBeUndefined();
  });
  it('treats "null" and empty as no dataset filter', () => {
    expect(parseConfig({ LOVDATA_DATASET_FILTER: 'null' }).LOVDATA_DATASET_FILTER).toBeNull();
    expect(parseConfig({ LOVDATA_DATASET_FILTER: '' }).LOVDATA_DATASET_FILTER).toBeNull();
  });
  it.each([
    ['DATABASE_URL', 'nonsense'],
    ['PARSER_CONCURRENCY', 'four'],
    ['PARSER_CONCURRENCY', '0'],
    ['PARSE_FAILURE_THRESHOLD', '1.5'],
    ['LOVDATA_API_URL', 'ftp://x'],
    ['SYNC_TZ', 'Mars/Olympus'],
    ['LOG_LEVEL', 'loud'],
    ['HTTP_PORT', '70000'],
    ['QUEUE_PREFIX', 'a:b'],
    ['DASHBOARD_USER', 'admin'],
  ])('rejects %s=%s naming the variable', (name, value) => {
    let err: unknown;
    try {
      parseConfig({ [name]: value });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const expectedVar = name === 'DASHBOARD_USER' ? 'DASHBOARD_PASSWORD' : name;
    expect((err as ConfigError).variable).toBe(expectedVar);
    expect((err as Error).message).toMatch(new RegExp(`^invalid configuration: ${expectedVar} `));
    expect((err as Error).message).not.toContain('\n');
  });
});

describe('queue contracts', () => {
  const hash = 'b5e9c1ad071b3e7fc779cfaa5e523818';
  it('job ids are deterministic and never contain ":"', () => {
    const a = parseJobId(12, 'lovtidend-avd1-2025.tar.bz2', 'lti/2025/sf-20250109-0020.xml');
    expect(a).toBe(parseJobId(12, 'lovtidend-avd1-2025.tar.bz2', 'lti/2025/sf-20250109-0020.xml'));
    expect(a).not.toBe(parseJobId(13, 'lovtidend-avd1-2025.tar.bz2', 'lti/2025/sf-20250109-0020.xml'));
    expect(a).toMatch(/^parse-12-[0-9a-f]{24}$/);
    for (const id of [a, parseJobId(1, 'a:b', 'c:d'), diffJobId(3, 'weird:name.tar.bz2')])
      expect(id).not.toContain(':');
  });
  it('accepts valid payloads and rejects bad ones', () => {
    const ok = {
      runId: 1,
      fileChangeId: 2,
      dataset: 'd',
      path: 'p.xml',
      change: 'added',
      newHash: hash,
      oldHash: null,
    };
    expect(parseJobSchema.safeParse(ok).success).toBe(true);
    for (const bad of [
      { ...ok, runId: 0 },
      { ...ok, newHash: 'not-a-hash' },
      { ...ok, change: 'renamed' },
      { ...ok, newHash: null },
      { ...ok, change: 'removed', oldHash: null },
      { ...ok, path: '' },
      {},
    ]) {
      expect(parseJobSchema.safeParse(bad).success).toBe(false);
    }
    expect(diffJobSchema.safeParse({ runId: 1, dataset: 'x' }).success).toBe(true);
    expect(diffJobSchema.safeParse({ runId: '1', dataset: 'x' }).success).toBe(false);
    expect(
      syncJobSchema.safeParse({ trigger: 'manual', requestedAt: new Date().toISOString() }).success,
    ).toBe(true);
    expect(syncJobSchema.safeParse({ trigger: 'cron', requestedAt: new Date().toISOString() }).success).toBe(
      false,
    );
  });
});
