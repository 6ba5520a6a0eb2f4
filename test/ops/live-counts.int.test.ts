/**
 * Live counts while a run is in progress (issue 16 point 11): once the diff has committed its
 * file_changes rows, every reader of the run — GET /api/runs/N, GET /api/runs, the runs page, the run
 * page, `lovsync runs --json` and the sync_runs_live view — shows those rows' counts and the parse
 * progress so far, never "0 modified, parsed 0/0". A real sync and diff of the fixture archives,
 * then the parse jobs run one half at a time.
 */
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pendingParseJobs } from '@lovsync/differ';
import { processParseJob } from '@lovsync/parser';
import { createMetrics } from '@lovsync/app/http/metrics';
import { startHttpServer, type HttpServer } from '@lovsync/app/http/server';
import type { Runtime } from '@lovsync/shared/runtime';
import { buildFixtureArchives } from '@lovsync/testkit/archive/archive-builder';
import { startEmulator, type Emulator } from '@lovsync/testkit/emulator/server';
import { createTestEnv, type TestEnv } from '@lovsync/testkit/support/harness';
import { createTestContext, rows } from '@lovsync/testkit/support/context';
import { syncAndDiff } from '@lovsync/testkit/support/cycle';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const exec = promisify(execFile);

let env: TestEnv;
let emu: Emulator;
let ctx: Runtime;
let http: HttpServer;
let runId: number;
/** What file_changes holds for the run, counted by independent SQL. */
let truth: { added: number; total: number; datasets: number };

async function apiRun(): Promise<Record<string, unknown>> {
  const res = await fetch(`${http.url}/api/runs/${runId}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

async function page(path: string): Promise<string> {
  const res = await fetch(`${http.url}${path}`);
  expect(res.status).toBe(200);
  return res.text();
}

async function cliRuns(): Promise<Record<string, unknown>[]> {
  const r = await exec(process.execPath, ['apps/lovsync/bin/lovsync.js', 'runs', '--json'], {
    cwd: ROOT,
    env: { ...process.env, ...env.env() },
    timeout: 50_000,
  });
  return JSON.parse(r.stdout) as Record<string, unknown>[];
}

/** The parse outcome counts committed so far. */
async function parsed(): Promise<{ succeeded: number; failed: number }> {
  const [r] = await rows<{ succeeded: number; failed: number }>(
    env,
    `SELECT count(*) FILTER (WHERE parse_status = 'succeeded')::int AS succeeded,
            count(*) FILTER (WHERE parse_status = 'failed')::int AS failed
     FROM file_changes WHERE run_id = $1`,
    [runId],
  );
  return r!;
}

/** Every reader agrees with file_changes while the run is running. */
async function expectLive(done: { succeeded: number; failed: number }): Promise<void> {
  const expected = {
    id: runId,
    status: 'running',
    filesAdded: truth.added,
    filesModified: 0,
    filesRemoved: 0,
    datasetsChanged: truth.datasets,
    parseTotal: truth.total,
    parseSucceeded: done.succeeded,
    parseFailed: done.failed,
  };
  expect(await apiRun()).toMatchObject(expected);
  const list = (await (await fetch(`${http.url}/api/runs`)).json()) as { items: Record<string, unknown>[] };
  expect(list.items.find((r) => r.id === runId)).toMatchObject(expected);
  expect((await cliRuns()).find((r) => r.id === runId)).toMatchObject(expected);
  const [view] = await rows(
    env,
    `SELECT status, files_added, parse_total, parse_succeeded, parse_failed FROM sync_runs_live WHERE id = $1`,
    [runId],
  );
  expect(view).toEqual({
    status: 'running',
    files_added: truth.added,
    parse_total: truth.total,
    parse_succeeded: done.succeeded,
    parse_failed: done.failed,
  });

  // The runs page's row and the run page's summary say the same as the file-summary table below it.
  const runs = await page('/');
  const row = runs.slice(
    runs.indexOf(`data-run-id="${runId}"`),
    runs.indexOf('</tr>', runs.indexOf(`data-run-id="${runId}"`)),
  );
  expect(row).toContain(`<td class="num c-added">${truth.added}</td>`);
  expect(row).toContain(`<td class="num">${done.succeeded} / ${truth.total}</td>`);
  const run = await page(`/runs/${runId}`);
  expect(run).toContain(`<span class="c-added">+${truth.added}</span> added`);
  expect(run).toContain(`<dd>${done.succeeded} of ${truth.total} succeeded, ${done.failed} failed</dd>`);
  const summary = [
    ...run.matchAll(/<tr><td class="c-(\w+)">\w+<\/td><td>(\w+)<\/td><td class="num">(\d+)<\/td><\/tr>/g),
  ];
  const sum = (f: (change: string, status: string) => boolean) =>
    summary.filter((m) => f(m[1]!, m[2]!)).reduce((a, m) => a + Number(m[3]), 0);
  expect(sum((c) => c === 'added')).toBe(truth.added);
  expect(sum((_, s) => s === 'succeeded')).toBe(done.succeeded);
  expect(sum((_, s) => s === 'pending')).toBe(truth.total - done.succeeded - done.failed);
}

beforeAll(async () => {
  env = await createTestEnv('ops_live_counts');
  const dir = join(env.tmp, 'archives');
  await mkdir(dir, { recursive: true });
  await buildFixtureArchives(dir);
  emu = await startEmulator({ dir });
  ctx = createTestContext(env, { LOVDATA_API_URL: emu.url });
  http = await startHttpServer(ctx, {
    dashboard: true,
    metrics: createMetrics(ctx),
    isShuttingDown: () => false,
    port: 0,
    host: '127.0.0.1',
  });
  runId = (await syncAndDiff(ctx)).runId;
  const [t] = await rows<{ added: number; total: number; datasets: number }>(
    env,
    `SELECT count(*) FILTER (WHERE change = 'added')::int AS added, count(*)::int AS total,
            count(DISTINCT dataset)::int AS datasets
     FROM file_changes WHERE run_id = $1`,
    [runId],
  );
  truth = t!;
}, 120_000);

afterAll(async () => {
  await http?.close();
  await ctx?.close();
  await emu?.close();
  await env?.teardown();
});

describe('counts while a run is in progress', () => {
  it('the diff committed rows the stored tally does not have yet', async () => {
    expect(truth.added).toBeGreaterThan(15);
    expect(truth.total).toBe(truth.added);
    // What readers showed before: the row's own counters stay at zero until the run completes.
    const [stored] = await rows(env, 'SELECT status, files_added, parse_total FROM sync_runs WHERE id = $1', [
      runId,
    ]);
    expect(stored).toEqual({ status: 'running', files_added: 0, parse_total: 0 });
  });

  it('every reader shows the committed file changes with nothing parsed yet', async () => {
    await expectLive({ succeeded: 0, failed: 0 });
  });

  it('every reader follows the parse progress', async () => {
    const jobs = await pendingParseJobs(ctx.database.pool, runId);
    for (const j of jobs.slice(0, Math.floor(jobs.length / 2))) await processParseJob(ctx, j);
    const done = await parsed();
    expect(done.succeeded).toBe(Math.floor(jobs.length / 2));
    await expectLive(done);
  });

  it('once complete, the stored tally and the live view agree', async () => {
    for (const j of await pendingParseJobs(ctx.database.pool, runId)) await processParseJob(ctx, j);
    const run = await apiRun();
    expect(run).toMatchObject({
      status: 'succeeded',
      filesAdded: truth.added,
      parseTotal: truth.total,
      parseSucceeded: truth.total,
    });
    const [stored] = await rows(
      env,
      'SELECT files_added, parse_total, parse_succeeded FROM sync_runs WHERE id = $1',
      [runId],
    );
    expect(stored).toEqual({
      files_added: truth.added,
      parse_total: truth.total,
      parse_succeeded: truth.total,
    });
  });
});
