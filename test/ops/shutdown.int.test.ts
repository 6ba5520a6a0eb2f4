/**
 * Graceful shutdown of the real service (`lovsync serve --role parser` as a child process) in the
 * middle of a run of ~200 parse jobs, with real Postgres, Redis and a synced corpus.
 *
 * To have jobs in flight at a known moment, the test holds row locks on some file_changes rows in an
 * open transaction: parse jobs for those rows block inside their transaction, exactly like slow
 * jobs. Then:
 *   - SIGTERM: readiness fails at once, /healthz stays up, no new job is taken, the blocked jobs finish
 *     once released and the process exits 0 within SHUTDOWN_TIMEOUT_SECONDS; a second parser finishes
 *     the run, and every file change was parsed by exactly one job.
 *   - a second signal exits at once (EXIT_FORCED); the jobs cut off are retried after their locks
 *     lapse and the run still completes.
 *   - jobs outlasting the bound: the process exits EXIT_FORCED when the bound expires.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Job } from 'bullmq';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ParseJobData } from '@lovsync/shared/queues';
import { EXIT_FORCED } from '@lovsync/app/compose/serve';
import type { Runtime } from '@lovsync/shared/runtime';
import { buildTarBz2, syntheticCorpus } from '@lovsync/testkit/archive/archive-builder';
import { startEmulator, type Emulator } from '@lovsync/testkit/emulator/server';
import { createTestEnv, type TestEnv } from '@lovsync/testkit/support/harness';
import { createTestContext, rows } from '@lovsync/testkit/support/context';
import { syncAndDiff } from '@lovsync/testkit/support/cycle';

const ROOT = join(import.meta.dirname, '..', '..');
const SHUTDOWN_TIMEOUT_SECONDS = 10;
const CONCURRENCY = 4;

interface LogRecord {
  level: number;
  msg?: string;
  [key: string]: unknown;
}

interface Served {
  child: ChildProcess;
  logs: LogRecord[];
  /** http://127.0.0.1:port of its health server. */
  url: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  waitForLog(msg: string | RegExp, ms?: number): Promise<LogRecord>;
  running(): boolean;
}

/** `node apps/lovsync/bin/lovsync.js serve --role parser`, waiting for "lovsync serving". */
async function serveParser(env: TestEnv, overrides: Record<string, string> = {}): Promise<Served> {
  const child = spawn(process.execPath, ['apps/lovsync/bin/lovsync.js', 'serve', '--role', 'parser'], {
    cwd: ROOT,
    env: {
      ...process.env,
      ...env.env({
        HTTP_PORT: '0',
        SHUTDOWN_TIMEOUT_SECONDS: String(SHUTDOWN_TIMEOUT_SECONDS),
        PARSER_CONCURRENCY: String(CONCURRENCY),
        LOG_LEVEL: 'info',
        ...overrides,
      }),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogRecord[] = [];
  const waiters = new Set<() => void>();
  let stderr = '';
  let partial = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    const lines = (partial + d).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      if (!line.trim()) continue;
      try {
        logs.push(JSON.parse(line) as LogRecord);
      } catch {
        logs.push({ level: 0, msg: line });
      }
    }
    for (const w of waiters) w();
  });
  let exitedState: { code: number | null; signal: NodeJS.Signals | null; at: number } | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once('exit', (code, signal) => {
      exitedState = { code, signal, at: Date.now() };
      for (const w of waiters) w();
      resolve(exitedState);
    }),
  );
  const matches = (r: LogRecord, msg: string | RegExp) =>
    typeof msg === 'string' ? r.msg === msg : msg.test(r.msg ?? '');
  const waitForLog = (msg: string | RegExp, ms = 30_000) =>
    new Promise<LogRecord>((resolve, reject) => {
      const check = () => {
        const found = logs.find((r) => matches(r, msg));
        if (found) return done(() => resolve(found));
        if (exitedState)
          return done(() =>
            reject(new Error(`exited ${exitedState!.code} before logging "${msg}": ${stderr}`)),
          );
      };
      const timer = setTimeout(() => done(() => reject(new Error(`no "${msg}" in ${ms} ms: ${stderr}`))), ms);
      const done = (then: () => void) => {
        clearTimeout(timer);
        waiters.delete(check);
        then();
      };
      waiters.add(check);
      check();
    });
  const serving = await waitForLog('lovsync serving');
  expect(serving).toMatchObject({ role: 'parser', host: '127.0.0.1', workers: ['parse'] });
  return {
    child,
    logs,
    url: `http://127.0.0.1:${String(serving.port)}`,
    exited,
    waitForLog,
    running: () => exitedState === undefined,
  };
}

async function count(env: TestEnv, sql: string, params: unknown[] = []): Promise<number> {
  return (await rows<{ n: number }>(env, `SELECT count(*)::int AS n FROM (${sql}) t`, params))[0]!.n;
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, ms = 60_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Holds FOR UPDATE locks on file_changes rows until released: parse jobs of those rows block. */
async function lockFileChanges(env: TestEnv, where: string, params: unknown[]) {
  const client = new pg.Client({ connectionString: env.databaseUrl });
  await client.connect();
  await client.query('BEGIN');
  const locked = await client.query<{ id: number }>(
    `SELECT id FROM file_changes WHERE ${where} ORDER BY id FOR UPDATE`,
    params,
  );
  let released = false;
  return {
    ids: new Set(locked.rows.map((r) => r.id)),
    async release() {
      if (released) return;
      released = true;
      await client.query('COMMIT').catch(() => undefined);
      await client.end().catch(() => undefined);
    },
  };
}

/** Waits until the parse queue has CONCURRENCY active jobs, all of them for locked (blocked) rows. */
async function blockedActiveJobs(ctx: Runtime, locked: Set<number>): Promise<Job<ParseJobData>[]> {
  return until('the parser to hold CONCURRENCY blocked jobs', async () => {
    const active = (await ctx.queues.parse.getActive()) as Job<ParseJobData>[];
    return active.length === CONCURRENCY && active.every((j) => locked.has(j.data.fileChangeId)) && active;
  });
}

/** sync + diff of the corpus in this process: a run with `total` pending parse jobs in the queue. */
async function pendingRun(label: string) {
  const env = await createTestEnv(label);
  envs.push(env);
  const ctx = createTestContext(env, { LOVDATA_API_URL: emu.url });
  contexts.push(ctx);
  const { runId } = await syncAndDiff(ctx);
  const total = await count(env, 'SELECT id FROM file_changes WHERE run_id = $1', [runId]);
  expect(await ctx.queues.parse.getJobCounts('waiting')).toEqual({ waiting: total });
  return { env, ctx, runId, total };
}

async function runFinished(env: TestEnv, runId: number, ms = 90_000) {
  return until(
    `run ${runId} to finish`,
    async () => {
      const r = await rows<{ status: string }>(env, 'SELECT status FROM sync_runs WHERE id = $1', [runId]);
      return r[0]?.status !== 'running' && r[0]?.status;
    },
    ms,
  );
}

let emu: Emulator;
const envs: TestEnv[] = [];
const contexts: Runtime[] = [];
const children: ChildProcess[] = [];
const releases: (() => Promise<void>)[] = [];

beforeAll(async () => {
  const scratch = await createTestEnv('shutdown_archives');
  envs.push(scratch);
  const dir = join(scratch.tmp, 'archives');
  await mkdir(dir, { recursive: true });
  await buildTarBz2(syntheticCorpus({ copies: 10 }), join(dir, 'lovtidend-avd1-2025.tar.bz2'));
  emu = await startEmulator({ dir });
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const r of releases) await r();
  for (const c of contexts) await c.close();
  await emu?.close();
  for (const e of envs) await e.teardown();
});

describe('lovsync serve --role parser on SIGTERM', () => {
  it('fails readiness, finishes its active jobs, exits 0 within the bound; the run completes later with every job done once', async () => {
    const { env, ctx, runId, total } = await pendingRun('shutdown_graceful');
    expect(total).toBeGreaterThan(200);

    // The upper half of the run's rows is locked: the parser gets through part of the run, then
    // CONCURRENCY of its jobs block mid-transaction.
    const split = (
      await rows<{ id: number }>(
        env,
        'SELECT id FROM file_changes WHERE run_id = $1 ORDER BY id OFFSET $2 LIMIT 1',
        [runId, Math.floor(total / 2)],
      )
    )[0]!.id;
    const lock = await lockFileChanges(env, 'run_id = $1 AND id >= $2', [runId, split]);
    releases.push(lock.release);

    const first = await serveParser(env);
    children.push(first.child);
    expect((await fetch(`${first.url}/readyz`)).status).toBe(200);
    const active = await blockedActiveJobs(ctx, lock.ids);
    const activeIds = active.map((j) => j.data.fileChangeId).sort((a, b) => a - b);
    const doneBefore = await count(
      env,
      `SELECT id FROM file_changes WHERE run_id = $1 AND parse_status <> 'pending'`,
      [runId],
    );
    expect(doneBefore).toBeGreaterThan(0); // some ...
    expect(doneBefore + CONCURRENCY).toBeLessThan(total); // ... but not all

    const signalled = Date.now();
    first.child.kill('SIGTERM');
    await first.waitForLog(/^shutting down/);
    // Draining: not ready (so no traffic is routed here), but alive (so no restart).
    const ready = await fetch(`${first.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ ready: false, shuttingDown: true });
    expect((await fetch(`${first.url}/healthz`)).status).toBe(200);
    // It waits for the jobs in flight instead of leaving them behind: alive and holding them while
    // their rows stay locked (their completion by this process is checked below, after the release).
    expect(first.running()).toBe(true);
    expect(await ctx.queues.parse.getActiveCount()).toBe(CONCURRENCY);

    await lock.release();
    const exit = await first.exited;
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit.at - signalled).toBeLessThan((SHUTDOWN_TIMEOUT_SECONDS + 2) * 1000);
    expect(first.logs.some((r) => r.msg === 'shutdown complete')).toBe(true);
    expect(first.logs.filter((r) => r.level >= 50)).toEqual([]);

    // The active jobs finished and were acknowledged; no new job was taken after the signal.
    expect(await ctx.queues.parse.getJobCounts('active', 'completed', 'failed', 'waiting')).toEqual({
      active: 0,
      completed: doneBefore + CONCURRENCY,
      failed: 0,
      waiting: total - doneBefore - CONCURRENCY,
    });
    const afterFirst = await rows<{ id: number; parse_status: string }>(
      env,
      'SELECT id, parse_status FROM file_changes WHERE run_id = $1 ORDER BY id',
      [runId],
    );
    expect(afterFirst.filter((r) => r.parse_status === 'failed')).toEqual([]);
    expect(afterFirst.filter((r) => r.parse_status === 'succeeded')).toHaveLength(doneBefore + CONCURRENCY);
    expect(afterFirst.filter((r) => activeIds.includes(r.id)).map((r) => r.parse_status)).toEqual(
      activeIds.map(() => 'succeeded'),
    );

    // A second parser finishes the run: the left-over jobs were waiting, not lost.
    const second = await serveParser(env);
    children.push(second.child);
    expect(await runFinished(env, runId)).toBe('succeeded');
    second.child.kill('SIGTERM');
    expect(await second.exited).toMatchObject({ code: 0 });

    const run = (
      await rows<{ parse_total: number; parse_succeeded: number; parse_failed: number; files_added: number }>(
        env,
        'SELECT parse_total, parse_succeeded, parse_failed, files_added FROM sync_runs WHERE id = $1',
        [runId],
      )
    )[0]!;
    expect(run).toEqual({ parse_total: total, parse_succeeded: total, parse_failed: 0, files_added: total });
    expect(
      await count(env, `SELECT id FROM file_changes WHERE run_id = $1 AND parse_status <> 'succeeded'`, [
        runId,
      ]),
    ).toBe(0);

    // Exactly one completed job per file change, none stalled, none run twice.
    expect(await ctx.queues.parse.getJobCounts('active', 'waiting', 'delayed', 'failed')).toEqual({
      active: 0,
      waiting: 0,
      delayed: 0,
      failed: 0,
    });
    const completed = (await ctx.queues.parse.getJobs(['completed'], 0, -1)) as Job<ParseJobData>[];
    expect(completed).toHaveLength(total);
    expect(new Set(completed.map((j) => j.data.fileChangeId)).size).toBe(total);
    expect(completed.filter((j) => j.stalledCounter > 0)).toEqual([]);
    expect(
      completed.filter((j) => (j.returnvalue as { outcome: string }).outcome === 'already-done'),
    ).toEqual([]);

    // One document change per document, all 'added' (a fresh mirror), none duplicated.
    const docs = await count(env, 'SELECT document_id FROM documents');
    const docChanges = await rows<{ document_id: string; change: string }>(
      env,
      'SELECT document_id, change FROM document_changes WHERE run_id = $1',
      [runId],
    );
    expect(docs).toBeGreaterThan(total / 2);
    expect(docChanges).toHaveLength(docs);
    expect(new Set(docChanges.map((d) => d.document_id)).size).toBe(docs);
    expect(new Set(docChanges.map((d) => d.change))).toEqual(new Set(['added']));
  }, 180_000);

  it('exits at once on a second signal; the jobs it cut off are retried and the run completes', async () => {
    const { env, ctx, runId, total } = await pendingRun('shutdown_second_signal');
    const lock = await lockFileChanges(env, 'run_id = $1', [runId]);
    releases.push(lock.release);
    // Short job locks, so the cut-off jobs are found stalled quickly afterwards.
    const first = await serveParser(env, { JOB_LOCK_SECONDS: '2' });
    children.push(first.child);
    const cut = await blockedActiveJobs(ctx, lock.ids);

    first.child.kill('SIGTERM');
    await first.waitForLog(/^shutting down/);
    expect(first.running()).toBe(true); // still draining: its jobs are blocked on the row locks
    const again = Date.now();
    first.child.kill('SIGTERM');
    const exit = await first.exited;
    expect(exit.code).toBe(EXIT_FORCED);
    expect(exit.at - again).toBeLessThan(2_000);
    expect(first.logs.some((r) => /^second signal/.test(r.msg ?? ''))).toBe(true);

    await lock.release();
    const second = await serveParser(env, { JOB_LOCK_SECONDS: '2' });
    children.push(second.child);
    expect(await runFinished(env, runId)).toBe('succeeded');
    second.child.kill('SIGTERM');
    expect(await second.exited).toMatchObject({ code: 0 });
    expect(
      await count(env, `SELECT id FROM file_changes WHERE run_id = $1 AND parse_status = 'succeeded'`, [
        runId,
      ]),
    ).toBe(total);
    const completed = (await ctx.queues.parse.getJobs(['completed'], 0, -1)) as Job<ParseJobData>[];
    expect(completed).toHaveLength(total);
    expect(new Set(completed.map((j) => j.data.fileChangeId)).size).toBe(total);
    // the cut-off jobs came back through stall detection
    const cutIds = new Set(cut.map((j) => j.id));
    expect(completed.filter((j) => cutIds.has(j.id)).every((j) => j.stalledCounter >= 1)).toBe(true);
  }, 180_000);

  it('exits EXIT_FORCED when active jobs outlast SHUTDOWN_TIMEOUT_SECONDS', async () => {
    const { env, ctx, runId } = await pendingRun('shutdown_bound');
    const lock = await lockFileChanges(env, 'run_id = $1', [runId]);
    releases.push(lock.release);
    const first = await serveParser(env, { SHUTDOWN_TIMEOUT_SECONDS: '2' });
    children.push(first.child);
    await blockedActiveJobs(ctx, lock.ids);

    const signalled = Date.now();
    first.child.kill('SIGTERM');
    const exit = await first.exited;
    expect(exit.code).toBe(EXIT_FORCED);
    expect(exit.at - signalled).toBeGreaterThanOrEqual(1_900);
    expect(exit.at - signalled).toBeLessThan(6_000);
    expect(first.logs.some((r) => /^shutdown timed out/.test(r.msg ?? ''))).toBe(true);
    await lock.release();
  }, 120_000);
});
