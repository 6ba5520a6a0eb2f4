/**
 * Differ: exact hash diff, lovlig's file semantics, exactly-once fan-out and run completion, on real
 * Postgres and Redis. Manifests are seeded directly (the sync service has its own tests).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  applyDiff,
  enqueuePendingParses,
  pendingParseJobs,
  processDiffJob,
  reconcile,
} from '@lovsync/differ';
import { createRun, finishSyncPhase, getRun } from '@lovsync/shared/db';
import { hashBytes } from '@lovsync/shared/hash';
import { parseJobId } from '@lovsync/shared/queues';
import { createTestEnv, REDIS_URL, type TestEnv } from '@lovsync/testkit/support/harness';
import { createTestContext, rows } from '@lovsync/testkit/support/context';
import { startWorkerProcess, stopProcess } from '@lovsync/testkit/support/processes';
import { waitForRun } from '@lovsync/testkit/support/cycle';
import { createRuntime, type Runtime } from '@lovsync/shared/runtime';
import { connect } from 'node:net';
import { Redis } from 'ioredis';
import { UnrecoverableError, Worker } from 'bullmq';
import { captureLogger } from '../ops/capture-logger.ts';

let env: TestEnv;
let ctx: Runtime;
const h = (n: number) => n.toString(16).padStart(32, '0');

type Entry = { path: string; hash: string; size: number };
const corpus = (n: number, salt = 0): Entry[] =>
  Array.from({ length: n }, (_, i) => ({
    path: `nl/nl-${String(i).padStart(5, '0')}.xml`,
    hash: h(i * 7 + salt),
    size: 100 + i,
  }));

/** A finished sync phase with one manifested dataset; returns the run id. */
async function seedRun(
  datasets: Record<string, Entry[] | 'vanished'>,
  lastModified = new Date(),
): Promise<number> {
  const pool = env.database.pool;
  const runId = await createRun(pool, { trigger: 'manual', force: false, datasetFilter: null });
  for (const [dataset, entries] of Object.entries(datasets)) {
    await pool.query(
      `INSERT INTO run_datasets (run_id, dataset, status, vanished, last_modified) VALUES ($1, $2, 'manifested', $3, $4)`,
      [runId, dataset, entries === 'vanished', lastModified],
    );
    if (entries !== 'vanished' && entries.length) {
      await pool.query(
        `INSERT INTO manifest_entries (run_id, dataset, path, hash, size) SELECT $1, $2, * FROM unnest($3::text[], $4::text[], $5::bigint[])`,
        [runId, dataset, entries.map((e) => e.path), entries.map((e) => e.hash), entries.map((e) => e.size)],
      );
    }
  }
  await finishSyncPhase(pool, runId, { datasetsChecked: Object.keys(datasets).length });
  return runId;
}

async function diffAll(runId: number) {
  const ds = await rows<{ dataset: string; vanished: boolean }>(
    env,
    'SELECT dataset, vanished FROM run_datasets WHERE run_id = $1',
    [runId],
  );
  const out = [];
  for (const d of ds)
    out.push(await processDiffJob(ctx, { runId, dataset: d.dataset, vanished: d.vanished }));
  return out;
}

const changes = (runId: number) =>
  rows<{ path: string; change: string; old_hash: string | null; new_hash: string | null }>(
    env,
    'SELECT path, change, old_hash, new_hash FROM file_changes WHERE run_id = $1 ORDER BY path',
    [runId],
  );
const parseJobs = async () =>
  (await ctx.queues.parse.getJobs(['waiting', 'delayed', 'active', 'prioritized'])).filter(Boolean);

beforeAll(async () => {
  env = await createTestEnv('differ');
  ctx = createTestContext(env);
});
afterAll(async () => {
  await ctx?.close();
  await env?.teardown();
});
beforeEach(async () => {
  await env.database.pool.query(
    'TRUNCATE files, file_changes, run_datasets, sync_runs, datasets, manifest_entries RESTART IDENTITY CASCADE',
  );
  await ctx.queues.parse.obliterate({ force: true });
  await ctx.queues.diff.obliterate({ force: true });
});

describe('hash diff', () => {
  it('first run = all added; identical second run = zero changes and zero parse jobs', async () => {
    const lm1 = new Date('2025-10-28T02:31:00.000Z');
    const r1 = await seedRun({ 'gjeldende-lover.tar.bz2': corpus(50) }, lm1);
    const [d1] = await diffAll(r1);
    expect(d1).toMatchObject({ added: 50, modified: 0, removed: 0, unchanged: 0, enqueued: 50 });
    expect(await parseJobs()).toHaveLength(50);
    const files = await rows<{ status: string; last_changed: Date }>(
      env,
      'SELECT status, last_changed FROM files',
    );
    expect(files.every((f) => f.status === 'added' && f.last_changed.getTime() === lm1.getTime())).toBe(true);
    const [ds] = await rows<{ last_modified: Date; last_run_id: number }>(
      env,
      'SELECT last_modified, last_run_id FROM datasets',
    );
    expect(ds).toEqual({ last_modified: lm1, last_run_id: r1 });

    await ctx.queues.parse.obliterate({ force: true });
    const r2 = await seedRun({ 'gjeldende-lover.tar.bz2': corpus(50) }, new Date('2025-10-29T02:31:00Z'));
    const [d2] = await diffAll(r2);
    expect(d2).toMatchObject({ added: 0, modified: 0, removed: 0, unchanged: 50, enqueued: 0 });
    expect(await changes(r2)).toEqual([]);
    expect(await parseJobs()).toHaveLength(0);
    const after = await rows<{ status: string; last_changed: Date }>(
      env,
      'SELECT status, last_changed FROM files',
    );
    // lovlig: status reflects the last sync; last_changed stays the lastModified of the change.
    expect(after.every((f) => f.status === 'unchanged' && f.last_changed.getTime() === lm1.getTime())).toBe(
      true,
    );
    expect((await getRun(env.database.pool, r2))!.status).toBe('succeeded');
  });

  it('edits, removals and additions give exactly those rows; a removed file that comes back is added', async () => {
    const base = corpus(20);
    await diffAll(await seedRun({ d: base }));
    const next = base
      .filter((_, i) => i !== 3 && i !== 4)
      .map((e, i) => (i === 0 || i === 7 ? { ...e, hash: h(9000 + i), size: 1 } : e));
    next.push({ path: 'nl/new-1.xml', hash: h(7777), size: 5 });
    const r2 = await seedRun({ d: next });
    await diffAll(r2);
    expect(await changes(r2)).toEqual([
      { path: 'nl/new-1.xml', change: 'added', old_hash: null, new_hash: h(7777) },
      { path: base[0]!.path, change: 'modified', old_hash: base[0]!.hash, new_hash: h(9000) },
      { path: base[3]!.path, change: 'removed', old_hash: base[3]!.hash, new_hash: null },
      { path: base[4]!.path, change: 'removed', old_hash: base[4]!.hash, new_hash: null },
      { path: base[9]!.path, change: 'modified', old_hash: base[9]!.hash, new_hash: h(9007) },
    ]);
    const st = await rows<{ path: string; status: string }>(
      env,
      `SELECT path, status FROM files WHERE status <> 'unchanged' ORDER BY path`,
    );
    expect(st).toEqual([
      { path: 'nl/new-1.xml', status: 'added' },
      { path: base[0]!.path, status: 'modified' },
      { path: base[3]!.path, status: 'removed' },
      { path: base[4]!.path, status: 'removed' },
      { path: base[9]!.path, status: 'modified' },
    ]);
    // The file comes back (same content as before it was removed): added, not modified.
    const r3 = await seedRun({ d: [...next, base[3]!] });
    await diffAll(r3);
    expect(await changes(r3)).toEqual([
      { path: base[3]!.path, change: 'added', old_hash: null, new_hash: base[3]!.hash },
    ]);
    const [back] = await rows<{ status: string }>(env, 'SELECT status FROM files WHERE path = $1', [
      base[3]!.path,
    ]);
    expect(back!.status).toBe('added');
    // Removed rows keep their row with status removed.
    const [gone] = await rows<{ status: string }>(env, 'SELECT status FROM files WHERE path = $1', [
      base[4]!.path,
    ]);
    expect(gone!.status).toBe('removed');
  });

  it('a dataset that vanished marks all its files removed; other datasets are untouched', async () => {
    await diffAll(
      await seedRun({ 'lovtidend-avd1-2025.tar.bz2': corpus(10), 'gjeldende-lover.tar.bz2': corpus(5, 1) }),
    );
    const r2 = await seedRun({ 'lovtidend-avd1-2025.tar.bz2': 'vanished' });
    await diffAll(r2);
    const c = await changes(r2);
    expect(c).toHaveLength(10);
    expect(c.every((x) => x.change === 'removed')).toBe(true);
    const st = await rows<{ dataset: string; status: string; n: string }>(
      env,
      'SELECT dataset, status, count(*) AS n FROM files GROUP BY 1, 2 ORDER BY 1, 2',
    );
    expect(st).toEqual([
      { dataset: 'gjeldende-lover.tar.bz2', status: 'added', n: 5 },
      { dataset: 'lovtidend-avd1-2025.tar.bz2', status: 'removed', n: 10 },
    ]);
    const [ds] = await rows<{ listed: boolean }>(
      env,
      `SELECT listed FROM datasets WHERE name = 'lovtidend-avd1-2025.tar.bz2'`,
    );
    expect(ds!.listed).toBe(false);
  });

  it('the same diff job twice, and a diff killed between its commit and the enqueue, converge to one set of rows and jobs', async () => {
    const r1 = await seedRun({ d: corpus(30) });
    await processDiffJob(ctx, { runId: r1, dataset: 'd', vanished: false });
    await processDiffJob(ctx, { runId: r1, dataset: 'd', vanished: false });
    expect(await changes(r1)).toHaveLength(30);
    expect(await parseJobs()).toHaveLength(30);

    // Commit without the enqueue (the process "dies" right after applyDiff), then the job is redelivered.
    const next = corpus(30).map((e, i) => (i < 5 ? { ...e, hash: h(5000 + i) } : e));
    const r2 = await seedRun({ d: next });
    await applyDiff(env.database.pool, { runId: r2, dataset: 'd', vanished: false });
    const jobsAfterCrash = (await parseJobs()).filter((j) => j.data.runId === r2);
    expect(jobsAfterCrash).toHaveLength(0);
    await processDiffJob(ctx, { runId: r2, dataset: 'd', vanished: false });
    const jobs = (await parseJobs()).filter((j) => j.data.runId === r2);
    expect(jobs).toHaveLength(5);
    expect(new Set(jobs.map((j) => j.id))).toEqual(
      new Set(next.slice(0, 5).map((e) => parseJobId(r2, 'd', e.path))),
    );
    expect(jobs.every((j) => !j.id!.includes(':'))).toBe(true);
    expect(await changes(r2)).toHaveLength(5);
    // The reconciler re-derives the same jobs (e.g. after Redis lost them) without duplicates.
    await ctx.queues.parse.obliterate({ force: true });
    const rep = await reconcile(ctx);
    expect(rep.parsesRequeued).toBe(35);
    expect(await parseJobs()).toHaveLength(35);
    expect(await enqueuePendingParses(env.database.pool, ctx.queues, r2)).toBe(5);
    expect(await parseJobs()).toHaveLength(35);
  });
});

describe('parse fan-out in pages', () => {
  it('enqueues exactly the pending rows of the dataset, with the same job ids and data, whatever the page size', async () => {
    const runId = await seedRun({ d: corpus(25), e: corpus(7, 3) });
    await applyDiff(env.database.pool, { runId, dataset: 'd', vanished: false });
    await applyDiff(env.database.pool, { runId, dataset: 'e', vanished: false });
    // Some rows are parsed already (in the middle, at a page edge, the last one): never enqueued.
    const ids = (
      await rows<{ id: number }>(
        env,
        `SELECT id FROM file_changes WHERE run_id = $1 AND dataset = 'd' ORDER BY id`,
        [runId],
      )
    ).map((r) => r.id);
    const done = [ids[2]!, ids[5]!, ids[6]!, ids[24]!];
    await env.database.pool.query(
      `UPDATE file_changes SET parse_status = 'succeeded' WHERE id = ANY($1::bigint[])`,
      [done],
    );
    const expected = corpus(25)
      .filter((_, i) => ![2, 5, 6, 24].includes(i))
      .map((e) => parseJobId(runId, 'd', e.path))
      .sort();
    expect(expected).toHaveLength(21);
    const unpaged = await pendingParseJobs(env.database.pool, runId, 'd');

    // 1: a page per row; 3: 21 rows = 7 full pages then an empty read; 4: a short last page; 1000: one page.
    for (const pageSize of [1, 3, 4, 1000]) {
      await ctx.queues.parse.obliterate({ force: true });
      expect(await enqueuePendingParses(env.database.pool, ctx.queues, runId, 'd', pageSize)).toBe(21);
      const jobs = await parseJobs();
      expect(jobs.map((j) => j.id).sort()).toEqual(expected);
      const byId = new Map(jobs.map((j) => [j.data.fileChangeId, j.data]));
      expect(unpaged.map((j) => byId.get(j.fileChangeId))).toEqual(unpaged);
      expect(jobs.every((j) => j.data.dataset === 'd' && !done.includes(j.data.fileChangeId))).toBe(true);
    }
    // A second fan-out adds nothing (deterministic ids); the whole run pages over both datasets.
    expect(await enqueuePendingParses(env.database.pool, ctx.queues, runId, 'd', 2)).toBe(21);
    expect(await parseJobs()).toHaveLength(21);
    expect(await enqueuePendingParses(env.database.pool, ctx.queues, runId, undefined, 2)).toBe(28);
    expect(await parseJobs()).toHaveLength(28);
    await expect(enqueuePendingParses(env.database.pool, ctx.queues, runId, 'd', 0)).rejects.toThrow(
      /page size must be a positive integer/,
    );
  });
});

describe('reconciler cost', () => {
  /**
   * Every Redis command on this test's keys while `fn` runs (MONITOR: top-level commands, and the
   * commands BullMQ's Lua scripts run), and those that touch one job's own keys (getJob and the like).
   */
  async function redisCommands(fn: () => Promise<unknown>) {
    // A plain socket in MONITOR mode: one `+<time> [<db> <client|lua>] "cmd" "arg"...` line per command.
    const url = new URL(REDIS_URL);
    const socket = connect(Number(url.port || 6379), url.hostname);
    const mark = `${env.prefix}:monitor-mark-${Math.random()}`;
    const lines: string[] = [];
    let buffered = '';
    let seen!: () => void;
    const marked = new Promise<void>((resolve) => (seen = resolve));
    let ready!: () => void;
    const monitoring = new Promise<void>((resolve) => (ready = resolve));
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      const parts = buffered.split('\r\n');
      buffered = parts.pop()!;
      for (const line of parts) {
        if (line === '+OK') ready();
        else if (line.includes(mark)) seen();
        else if (line.includes(env.prefix)) lines.push(line);
      }
    });
    socket.write('MONITOR\r\n');
    await monitoring;
    try {
      await fn();
      const redis = new Redis(REDIS_URL);
      await redis.exists(mark).finally(() => redis.quit());
      await marked;
    } finally {
      socket.destroy();
    }
    const lua = lines.filter((l) => / \[\d+ lua\] /.test(l));
    const perJob = lines.filter((l) => l.includes(`"${env.prefix}:parse:parse-`));
    return { top: lines.length - lua.length, lua: lua.length, perJob: perJob.length };
  }

  /** A run whose n pending rows all have their waiting parse job (no parser is running). */
  async function healthyBacklog(n: number): Promise<number> {
    const runId = await seedRun({ d: corpus(n) });
    await processDiffJob(ctx, { runId, dataset: 'd', vanished: false });
    expect(await ctx.queues.parse.getJobCountByTypes('waiting')).toBe(n);
    return runId;
  }

  async function reconcileLogged() {
    const captured = captureLogger();
    const rt = createRuntime(env.config(), { log: captured.log, service: 'test' });
    try {
      let report!: Awaited<ReturnType<typeof reconcile>>;
      const redis = await redisCommands(async () => (report = await reconcile(rt)));
      const lines = captured.lines.filter((l) => /reconciled/.test(l.msg ?? ''));
      return { report, redis, lines };
    } finally {
      await rt.close();
    }
  }

  it('a healthy backlog costs the same few Redis commands at 300 and 3,000 pending rows, none per job, and requeues nothing', async () => {
    const costs = [];
    for (const n of [300, 3000]) {
      await ctx.queues.parse.obliterate({ force: true });
      await env.database.pool.query(
        'TRUNCATE files, file_changes, run_datasets, sync_runs, datasets, manifest_entries RESTART IDENTITY CASCADE',
      );
      await healthyBacklog(n);
      const { report, redis, lines } = await reconcileLogged();
      expect(report).toMatchObject({ runsChecked: 1, parsesRequeued: 0, parsesFailed: 0, diffsRequeued: 0 });
      // The pass says so, and only at debug: no line claims a requeue.
      expect(lines).toEqual([
        expect.objectContaining({ level: 'debug', obj: expect.objectContaining({ parsesRequeued: 0 }) }),
      ]);
      expect(redis.perJob).toBe(0);
      costs.push(redis);
      console.info(`reconcile, healthy backlog of ${n}: Redis commands`, redis);
    }
    // Not one command more for ten times the rows (the old pass sent one getJob per row).
    expect(costs[1]).toEqual(costs[0]);
    expect(costs[0]!.top).toBeLessThan(20);
  });

  it('k missing jobs out of 3,000 pending rows: exactly k requeued, logged as k, at a cost that grows with k only', async () => {
    const runId = await healthyBacklog(3000);
    const gone = corpus(3000)
      .filter((_, i) => i % 401 === 0)
      .map((e) => parseJobId(runId, 'd', e.path));
    expect(gone).toHaveLength(8);
    for (const id of gone) expect(await ctx.queues.parse.remove(id)).toBe(1);
    expect(await ctx.queues.parse.getJobCountByTypes('waiting')).toBe(3000 - gone.length);

    const { report, redis, lines } = await reconcileLogged();
    expect(report.parsesRequeued).toBe(gone.length);
    expect(lines).toEqual([
      expect.objectContaining({
        level: 'info',
        obj: expect.objectContaining({ parsesRequeued: gone.length }),
      }),
    ]);
    expect(await ctx.queues.parse.getJobCountByTypes('waiting')).toBe(3000);
    for (const id of gone) expect(await ctx.queues.parse.getJobState(id)).toBe('waiting');
    // Per missing job: its state read and its re-add (a few commands on its keys), nothing per present job.
    console.info(`reconcile, ${gone.length} of 3000 missing: Redis commands`, redis);
    expect(redis.perJob).toBeGreaterThan(0);
    expect(redis.perJob).toBeLessThanOrEqual(gone.length * 10);

    // Converged: the next pass has nothing to do.
    const again = await reconcileLogged();
    expect(again.report.parsesRequeued).toBe(0);
    expect(again.redis.perJob).toBe(0);
  });
  it('reads pending rows in pages: missing jobs on either side of page edges are requeued exactly once', async () => {
    const runId = await healthyBacklog(25);
    // Rows 0, 3, 4, 11 and 24: first row, a page's last and the next page's first (pages of 4), the last row.
    const gone = corpus(25)
      .filter((_, i) => [0, 3, 4, 11, 24].includes(i))
      .map((e) => parseJobId(runId, 'd', e.path));
    for (const id of gone) expect(await ctx.queues.parse.remove(id)).toBe(1);
    const report = await reconcile(ctx, { pendingPage: 4 });
    expect(report.parsesRequeued).toBe(gone.length);
    expect(await ctx.queues.parse.getJobCountByTypes('waiting')).toBe(25);
    for (const id of gone) expect(await ctx.queues.parse.getJobState(id)).toBe('waiting');
    expect((await reconcile(ctx, { pendingPage: 5 })).parsesRequeued).toBe(0);
    await expect(reconcile(ctx, { pendingPage: 0 })).rejects.toThrow(
      /pendingPage must be a positive integer/,
    );
  });
  it('a job completed while its row is pending is stale: removed and requeued; a job failed for good fails its row', async () => {
    const runId = await healthyBacklog(20);
    // A worker that runs no handler: even rows' jobs complete (their rows stay pending), odd ones fail for good.
    const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const paths = corpus(20).map((e) => e.path);
    const done = new Set<string>();
    const worker = new Worker(
      ctx.queues.parse.name,
      async (job) => {
        const i = paths.indexOf((job.data as { path: string }).path);
        if (i % 2) throw new UnrecoverableError(`no handler for ${i}`);
      },
      { connection, prefix: env.prefix, concurrency: 4 },
    );
    worker.on('completed', (j) => done.add(j.id!));
    worker.on('failed', (j) => done.add(j!.id!));
    try {
      for (let t = 0; done.size < 20 && t < 200; t++) await new Promise((r) => setTimeout(r, 50));
    } finally {
      await worker.close();
      connection.disconnect();
    }
    expect(await ctx.queues.parse.getJobCounts('completed', 'failed', 'waiting')).toEqual({
      completed: 10,
      failed: 10,
      waiting: 0,
    });

    const { report, lines } = await reconcileLogged();
    expect(report).toMatchObject({ parsesRequeued: 10, parsesFailed: 10 });
    expect(lines).toEqual([
      expect.objectContaining({
        level: 'info',
        obj: expect.objectContaining({ parsesRequeued: 10, parsesFailed: 10 }),
      }),
    ]);
    const byStatus = await rows<{ parse_status: string; n: number }>(
      env,
      `SELECT parse_status, count(*)::int AS n FROM file_changes WHERE run_id = $1 GROUP BY 1 ORDER BY 1`,
      [runId],
    );
    expect(byStatus).toEqual([
      { parse_status: 'failed', n: 10 },
      { parse_status: 'pending', n: 10 },
    ]);
    const waiting = await ctx.queues.parse.getJobs(['waiting']);
    expect(new Set(waiting.map((j) => j.id))).toEqual(
      new Set(paths.filter((_, i) => i % 2 === 0).map((p) => parseJobId(runId, 'd', p))),
    );
    expect((await reconcileLogged()).report).toMatchObject({ parsesRequeued: 0, parsesFailed: 0 });
  });
});

describe('run completion', () => {
  async function runWithFailures(total: number, malformed: number) {
    await ctx.queues.parse.obliterate({ force: true });
    // Real blobs: valid (but tiny, non-Lovdata) XML fails as a document without a dokid; so both the
    // failing and the succeeding jobs are real parses. Succeeding ones are removals of never-parsed files.
    const bad = Buffer.from('<html><body><p>no closing');
    const badHash = await hashBytes(bad);
    await env.database.pool.query(
      'INSERT INTO blobs (hash, size, content) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
      [badHash, bad.length, bad],
    );
    const seedPrev = corpus(total - malformed, 3).map((e) => ({ ...e, path: `gone/${e.path}` }));
    await diffAll(await seedRun({ d: seedPrev }));
    await env.database.pool.query(`UPDATE file_changes SET parse_status = 'succeeded'`);
    await env.database.pool.query(`UPDATE sync_runs SET status = 'succeeded'`);
    await ctx.queues.parse.obliterate({ force: true });
    const entries = Array.from({ length: malformed }, (_, i) => ({
      path: `bad/b${i}.xml`,
      hash: badHash,
      size: bad.length,
    }));
    const runId = await seedRun({ d: entries }); // the previous files vanish from the manifest: removals
    await diffAll(runId);
    return runId;
  }

  it('is right with 2 parser processes racing, with a failure rate just under and just over the threshold', async () => {
    const procs = await Promise.all([
      startWorkerProcess('parser', env.env({ PARSER_CONCURRENCY: '4', PARSE_FAILURE_THRESHOLD: '0.5' })),
      startWorkerProcess('parser', env.env({ PARSER_CONCURRENCY: '4', PARSE_FAILURE_THRESHOLD: '0.5' })),
    ]);
    try {
      // 20 jobs, 10 fail: 0.5 is not more than the threshold -> partial.
      const under = await waitForRun(ctx, await runWithFailures(20, 10), 30_000);
      expect(under).toMatchObject({ status: 'partial', parseTotal: 20, parseFailed: 10, parseSucceeded: 10 });
      // 20 jobs, 11 fail: over the threshold -> failed.
      const over = await waitForRun(ctx, await runWithFailures(20, 11), 30_000);
      expect(over).toMatchObject({ status: 'failed', parseTotal: 20, parseFailed: 11, parseSucceeded: 9 });
      const failed = await rows<{ parse_error: string }>(
        env,
        `SELECT parse_error FROM file_changes WHERE parse_status = 'failed' LIMIT 1`,
      );
      expect(failed[0]!.parse_error).toMatch(/malformed|XML|closed|Unclosed/i);
      // No run completed twice and none is left running.
      expect(await rows(env, `SELECT id FROM sync_runs WHERE status = 'running'`)).toEqual([]);
    } finally {
      await Promise.all(procs.map((p) => stopProcess(p)));
    }
  });

  it('a run with no changes completes at once', async () => {
    await diffAll(await seedRun({ d: corpus(3) }));
    await env.database.pool.query(`UPDATE file_changes SET parse_status = 'succeeded'`);
    const r = await seedRun({ d: corpus(3) });
    await diffAll(r);
    expect((await getRun(env.database.pool, r))!.status).toBe('succeeded');
  });
});
