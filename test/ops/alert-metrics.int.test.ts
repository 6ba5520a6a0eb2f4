/**
 * The metrics an alert needs (issue 16 point 12), scraped from /metrics of a real `lovsync serve`
 * process: before any run, after a real `lovsync run` (CLI) against the emulator, and while a second
 * real run waits for its parses (no parser is running, so its backlog stays put). Each value is
 * checked against independent SQL.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Runtime } from '@lovsync/shared/runtime';
import {
  buildFixtureArchives,
  buildTarBz2,
  editEntries,
  fixtureEntries,
} from '@lovsync/testkit/archive/archive-builder';
import { startEmulator, type Emulator } from '@lovsync/testkit/emulator/server';
import { createTestEnv, type TestEnv } from '@lovsync/testkit/support/harness';
import { createTestContext, rows } from '@lovsync/testkit/support/context';
import { syncAndDiff } from '@lovsync/testkit/support/cycle';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const exec = promisify(execFile);
const LOVER = 'gjeldende-lover.tar.bz2';

let env: TestEnv;
let emu: Emulator;
let ctx: Runtime;
let server: ChildProcess;
let url: string;

/** `name{labels}` -> value, from the Prometheus text format. */
async function scrape(): Promise<Map<string, number>> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  const out = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

const statusSeries = (m: Map<string, number>) =>
  Object.fromEntries(
    ['running', 'succeeded', 'partial', 'failed'].map((s) => [
      s,
      m.get(`lovsync_last_run_status{status="${s}"}`),
    ]),
  );

/** now - lastModified per listed dataset, computed by Postgres. */
async function datasetAges(): Promise<Map<string, number>> {
  const r = await rows<{ name: string; age: number }>(
    env,
    `SELECT name, extract(epoch FROM now() - last_modified)::float8 AS age FROM datasets WHERE listed ORDER BY name`,
  );
  return new Map(r.map((d) => [d.name, d.age]));
}

function expectAges(m: Map<string, number>, ages: Map<string, number>): void {
  expect(ages.size).toBeGreaterThan(0);
  for (const [name, age] of ages) {
    const scraped = m.get(`lovsync_dataset_last_modified_age_seconds{dataset="${name}"}`);
    expect(scraped, name).toBeDefined();
    // Scraped a moment before or after the SQL above: the same age give or take the time between.
    expect(Math.abs(scraped! - age), name).toBeLessThan(120);
  }
}

beforeAll(async () => {
  env = await createTestEnv('ops_alert_metrics');
  const dir = join(env.tmp, 'archives');
  await mkdir(dir, { recursive: true });
  await buildFixtureArchives(dir);
  emu = await startEmulator({ dir });
  ctx = createTestContext(env, { LOVDATA_API_URL: emu.url });
  // A differ service: it serves /metrics like every role and runs no parser, so a run's parse
  // backlog stays until this test parses it.
  server = spawn(process.execPath, ['apps/lovsync/bin/lovsync.js', 'serve', '--role', 'differ'], {
    cwd: ROOT,
    env: { ...process.env, ...env.env({ LOVDATA_API_URL: emu.url, HTTP_PORT: '0', LOG_LEVEL: 'info' }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  server.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  server.stderr!.resume();
  await vi.waitFor(
    () => {
      if (!/"url":"(http:[^"]+)"/.test(out)) throw new Error(`serve printed no url yet: ${out}`);
    },
    { timeout: 60_000, interval: 200 },
  );
  url = /"url":"(http:[^"]+)"/.exec(out)![1]!;
}, 120_000);

afterAll(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await exited;
  }
  await ctx?.close();
  await emu?.close();
  await env?.teardown();
});

describe('/metrics has what an alert needs', () => {
  it('before any run: no success yet (0), no run status, no backlog, no dataset', async () => {
    const m = await scrape();
    expect(m.get('lovsync_last_successful_run_timestamp_seconds')).toBe(0);
    expect(m.get('lovsync_last_run_finished_timestamp_seconds')).toBe(0);
    expect(statusSeries(m)).toEqual({ running: 0, succeeded: 0, partial: 0, failed: 0 });
    expect(m.get('lovsync_parse_backlog')).toBe(0);
    expect([...m.keys()].filter((k) => k.startsWith('lovsync_dataset_last_modified_age_seconds'))).toEqual(
      [],
    );
  });

  it('after a real `lovsync run`: its finish time, status succeeded, no backlog, each dataset age', async () => {
    const r = await exec(process.execPath, ['apps/lovsync/bin/lovsync.js', 'run', '--json'], {
      cwd: ROOT,
      env: { ...process.env, ...env.env({ LOVDATA_API_URL: emu.url }) },
      timeout: 120_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    const summary = JSON.parse(r.stdout) as { run: { id: number; status: string } };
    expect(summary.run.status).toBe('succeeded');
    const [run] = await rows<{ finished: number }>(
      env,
      'SELECT extract(epoch FROM finished_at)::float8 AS finished FROM sync_runs WHERE id = $1',
      [summary.run.id],
    );
    const ages = await datasetAges();
    const m = await scrape();
    expect(m.get('lovsync_last_successful_run_timestamp_seconds')).toBeCloseTo(run!.finished, 3);
    expect(m.get('lovsync_last_run_finished_timestamp_seconds')).toBeCloseTo(run!.finished, 3);
    expect(statusSeries(m)).toEqual({ running: 0, succeeded: 1, partial: 0, failed: 0 });
    expect(m.get('lovsync_parse_backlog')).toBe(0);
    expect(ages.size).toBe(2);
    expectAges(m, ages);
  }, 180_000);

  it('while a second run waits for its parses: status running, the backlog, the last success unchanged', async () => {
    const before = (await scrape()).get('lovsync_last_successful_run_timestamp_seconds');
    const { entries } = editEntries(fixtureEntries('gjeldende-lover'), 0.5, 7);
    await buildTarBz2(entries, join(env.tmp, 'archives', LOVER));
    // An hour older than the first version's: the age must follow the committed version.
    emu.setLastModified(LOVER, new Date(Date.now() - 3_600_000));
    const { runId } = await syncAndDiff(ctx);
    const [pending] = await rows<{ n: number }>(
      env,
      `SELECT count(*)::int AS n FROM file_changes WHERE run_id = $1 AND parse_status = 'pending'`,
      [runId],
    );
    expect(pending!.n).toBeGreaterThan(0);
    const ages = await datasetAges();
    expect(ages.get(LOVER)).toBeGreaterThan(3_500);
    const m = await scrape();
    expect(m.get('lovsync_parse_backlog')).toBe(pending!.n);
    expect(statusSeries(m)).toEqual({ running: 1, succeeded: 0, partial: 0, failed: 0 });
    expect(m.get('lovsync_last_successful_run_timestamp_seconds')).toBe(before);
    expectAges(m, ages);
  });
});
