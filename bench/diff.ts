/**
 * bench/diff (issue 4): 100,000 files of one dataset in `files` (seeded by diffing a first run's
 * manifest), then a manifest with 1% modified, 0.5% added and 0.5% removed. Times the diff
 * transaction (applyDiff, BEGIN..COMMIT as seen by the client) and the whole diff job
 * (processDiffJob: the transaction, enqueueing 2,000 parse jobs with addBulk, run completion).
 * Baselines in the same rounds: `SELECT count(*) FROM files` and the bare FULL OUTER JOIN SELECT
 * of the same two sets.
 *
 * Two starting states, REPS rounds each, interleaved:
 * - "after first import": every current file has status `added`, as right after the first run
 *   (the seed), so the diff also turns 99,000 rows from added to unchanged (lovlig's semantics:
 *   status reflects the last sync);
 * - "steady state": the previous run changed 2,000 files, like any later daily sync.
 * Diffs alternate two manifests, A -> B -> A -> ..., so every round changes the same number of
 * rows (B -> A: the 500 removed files come back as added). `files` is vacuumed and analysed
 * before each round (as autovacuum would between daily syncs); the fresh manifest is not.
 *
 *   pnpm bench:diff            (REPS=5 rounds per state by default)
 */
import type pg from 'pg';
import { processDiffJob, applyDiff } from '@lovsync/differ';
import { createRun, finishSyncPhase, maybeCompleteRun } from '@lovsync/shared/db';
import type { DiffJobData } from '@lovsync/shared/queues';
import { createTestContext } from '@lovsync/testkit/support/context';
import { createTestEnv } from '@lovsync/testkit/support/harness';
import { fmt, log, printTable, summarise, verdict } from './lib/stats.ts';

const REPS = Number(process.env.REPS ?? 5);
const FILES = 100_000;
const ADDED = 500;
const DATASET = 'gjeldende-lover.tar.bz2';
const TARGET_TX_MS = 1000;
const TARGET_JOB_MS = 3000;

type Manifest = 'A' | 'B';

/**
 * Manifest A: files 0..99,999. Manifest B: every 100th file modified (1,000), every 200th + 1
 * gone (500), files 100,000..100,499 new (500). Hashes are 32 hex digits like XXH3-128's.
 */
const MANIFEST_SQL: Record<Manifest, string> = {
  A: `INSERT INTO manifest_entries (run_id, dataset, path, hash, size)
      SELECT $1, $2, format('nl/nl-%s.xml', lpad(i::text, 6, '0')), md5('a' || i), 1000 + i % 50000
      FROM generate_series(0, ${FILES - 1}) i`,
  B: `INSERT INTO manifest_entries (run_id, dataset, path, hash, size)
      SELECT $1, $2, format('nl/nl-%s.xml', lpad(i::text, 6, '0')),
             CASE WHEN i % 100 = 0 THEN md5('b' || i) ELSE md5('a' || i) END,
             CASE WHEN i % 100 = 0 THEN 1001 + i % 50000 ELSE 1000 + i % 50000 END
      FROM generate_series(0, ${FILES + ADDED - 1}) i
      WHERE i >= ${FILES} OR i % 200 <> 1`,
};

/** The differ's change condition as a read-only SELECT: what any diff must at least read. */
const RAW_JOIN_SQL = `
  SELECT count(*)::int AS n
  FROM (SELECT path, hash FROM manifest_entries WHERE run_id = $1 AND dataset = $2) m
  FULL OUTER JOIN (SELECT path, hash, status FROM files WHERE dataset = $2) f ON f.path = m.path
  WHERE (m.path IS NULL AND f.status <> 'removed') OR f.path IS NULL
     OR (m.path IS NOT NULL AND f.status = 'removed') OR m.hash <> f.hash`;

/** A run whose sync phase is over with a manifested dataset: what a sync leaves for the differ. */
async function manifestedRun(pool: pg.Pool, manifest: Manifest): Promise<number> {
  const runId = await createRun(pool, { trigger: 'manual', force: false, datasetFilter: null });
  await pool.query(
    `INSERT INTO run_datasets (run_id, dataset, status, last_modified) VALUES ($1, $2, 'manifested', $3)`,
    [runId, DATASET, new Date(Date.UTC(2025, 0, 1) + runId * 86_400_000)],
  );
  await pool.query(MANIFEST_SQL[manifest], [runId, DATASET]);
  await finishSyncPhase(pool, runId, { datasetsChecked: 1 });
  return runId;
}

/** Short names for the statements of applyDiff, for the per-statement breakdown. */
const STATEMENTS: [RegExp, string][] = [
  [/INSERT INTO file_changes/, 'INSERT file_changes ... FULL OUTER JOIN'],
  [/UPDATE files f SET status = 'unchanged'/, "UPDATE files: last run's added/modified -> unchanged"],
  [/INSERT INTO files/, 'INSERT files ... ON CONFLICT (changed rows)'],
  [/DELETE FROM manifest_entries/, 'DELETE manifest_entries'],
  [/^COMMIT$/, 'COMMIT'],
];
const OTHER = 'other (locks, counts, bookkeeping)';

interface Traced<T> {
  result: T;
  totalMs: number;
  /** From checking out the first pool client to releasing it: the diff transaction. */
  txMs: number;
  /** ms per statement name inside that transaction. */
  statements: Map<string, number>;
}

/**
 * Times `fn`, the first pool client it checks out (applyDiff's transaction: processDiffJob starts
 * with it) and every statement sent on that client.
 */
async function traceFirstTransaction<T>(pool: pg.Pool, fn: () => Promise<T>): Promise<Traced<T>> {
  type QueryFn = (...args: unknown[]) => Promise<unknown>;
  let client: pg.PoolClient | undefined;
  let acquiredAt = 0;
  let releasedAt = 0;
  const statements = new Map<string, number>();
  const onAcquire = (c: pg.PoolClient) => {
    if (client) return;
    client = c;
    acquiredAt = performance.now();
    const query = c.query as unknown as QueryFn;
    // An own property shadows Client.prototype.query until the release below deletes it.
    (c as unknown as { query: QueryFn }).query = async (...args) => {
      const t0 = performance.now();
      const result = await query.apply(c, args);
      const sql = typeof args[0] === 'string' ? args[0].trim() : '';
      const name = STATEMENTS.find(([re]) => re.test(sql))?.[1] ?? OTHER;
      statements.set(name, (statements.get(name) ?? 0) + performance.now() - t0);
      return result;
    };
  };
  const onRelease = (_err: Error | undefined, c: pg.PoolClient) => {
    if (c !== client || releasedAt !== 0) return;
    releasedAt = performance.now();
    delete (c as unknown as { query?: unknown }).query;
  };
  pool.on('acquire', onAcquire);
  pool.on('release', onRelease);
  try {
    const t0 = performance.now();
    const result = await fn();
    const totalMs = performance.now() - t0;
    if (!client || releasedAt === 0) throw new Error('no transaction observed');
    return { result, totalMs, txMs: releasedAt - acquiredAt, statements };
  } finally {
    pool.off('acquire', onAcquire);
    pool.off('release', onRelease);
  }
}

async function timeQuery(
  pool: pg.Pool,
  sql: string,
  params: unknown[] = [],
): Promise<{ ms: number; n: number }> {
  const t0 = performance.now();
  const res = await pool.query<{ n: number }>(sql, params);
  return { ms: performance.now() - t0, n: Number(res.rows[0]!.n) };
}

type State = 'after first import' | 'steady state';
const STATES: State[] = ['after first import', 'steady state'];

interface Round {
  count: number;
  join: number;
  tx: number;
  job: number;
  statements: Map<string, number>;
}

async function main(): Promise<void> {
  const env = await createTestEnv('bench_diff');
  const ctx = createTestContext(env);
  const { pool } = ctx.database;
  const rounds: Record<State, Round[]> = { 'after first import': [], 'steady state': [] };
  let diffs = 0;
  let seedMs = 0;
  try {
    log(`seeding ${FILES} files (first run diffed with applyDiff)...`);
    const seedRun = await manifestedRun(pool, 'A');
    const t0 = performance.now();
    const seeded = await applyDiff(pool, { runId: seedRun, dataset: DATASET, vanished: false });
    seedMs = performance.now() - t0;
    if (seeded.added !== FILES) throw new Error(`seed added ${seeded.added} files, expected ${FILES}`);
    await markParsed(pool, seedRun);

    for (let rep = 1; rep <= REPS; rep++) {
      for (const state of STATES) {
        if (state === 'after first import') {
          await pool.query(`UPDATE files SET status = 'added' WHERE status <> 'removed'`);
        }
        await pool.query('VACUUM ANALYZE files, file_changes');
        const manifest: Manifest = diffs++ % 2 ? 'A' : 'B';
        const runId = await manifestedRun(pool, manifest);
        await ctx.queues.parse.obliterate({ force: true });
        const count = await timeQuery(pool, 'SELECT count(*)::int AS n FROM files');
        const join = await timeQuery(pool, RAW_JOIN_SQL, [runId, DATASET]);
        const data: DiffJobData = { runId, dataset: DATASET, vanished: false };
        const t = await traceFirstTransaction(pool, () => processDiffJob(ctx, data));
        const changes = `${t.result.added}/${t.result.modified}/${t.result.removed}`;
        const expected = 2 * ADDED + FILES / 100;
        if (changes !== `${ADDED}/${FILES / 100}/${ADDED}` || t.result.enqueued !== expected) {
          throw new Error(
            `unexpected diff ${changes} (added/modified/removed), ${t.result.enqueued} enqueued`,
          );
        }
        const queued = await ctx.queues.parse.getJobCountByTypes('waiting', 'prioritized', 'delayed');
        if (queued !== expected) throw new Error(`${queued} parse jobs queued, expected ${expected}`);
        if (join.n !== expected) throw new Error(`the bare join found ${join.n} changes`);
        log(
          `round ${rep}/${REPS}, ${state} (${manifest}): tx ${t.txMs.toFixed(0)} ms, job ${t.totalMs.toFixed(0)} ms, ` +
            `bare join ${join.ms.toFixed(0)} ms, count(*) ${count.ms.toFixed(0)} ms`,
        );
        rounds[state].push({
          count: count.ms,
          join: join.ms,
          tx: t.txMs,
          job: t.totalMs,
          statements: t.statements,
        });
        await markParsed(pool, runId);
      }
    }
    report(rounds, seedMs);
  } finally {
    await ctx.close();
    await env.teardown();
  }
}

/** The run's parses are done, as they would be long before the next daily sync. */
async function markParsed(pool: pg.Pool, runId: number): Promise<void> {
  await pool.query(
    `UPDATE file_changes SET parse_status = 'succeeded', parsed_at = now() WHERE run_id = $1`,
    [runId],
  );
  await maybeCompleteRun(pool, runId, 0.5);
}

function report(rounds: Record<State, Round[]>, seedMs: number): void {
  const col = (state: State, pick: (r: Round) => number) => fmt(rounds[state].map(pick), 0);
  const vsJoin = (state: State, pick: (r: Round) => number) => {
    const rs = rounds[state];
    return `${(summarise(rs.map(pick)).median / summarise(rs.map((r) => r.join)).median).toFixed(1)}x`;
  };
  const [first, steady] = STATES as [State, State];
  const row = (name: string, pick: (r: Round) => number, ratio = true) => [
    name,
    col(first, pick),
    ratio ? vsJoin(first, pick) : '',
    col(steady, pick),
    ratio ? vsJoin(steady, pick) : '',
  ];
  process.stdout.write(
    `\nbench/diff: ${FILES} files in \`files\`, manifest with ${FILES / 100} modified, ${ADDED} added, ` +
      `${ADDED} removed (2,000 parse jobs); ${REPS} rounds per state, interleaved; ms, median [min–max]\n` +
      `(seed: the first run, ${FILES} files added, diffed in ${seedMs.toFixed(0)} ms)\n\n`,
  );
  printTable(
    ['step', first, 'vs join', steady, 'vs join'],
    [
      row('baseline: SELECT count(*) FROM files', (r) => r.count),
      row('baseline: bare FULL OUTER JOIN SELECT', (r) => r.join),
      row('diff transaction (applyDiff)', (r) => r.tx),
      row('whole diff job (processDiffJob)', (r) => r.job),
      row('  of which enqueue 2,000 + completion', (r) => r.job - r.tx, false),
    ],
  );
  process.stdout.write('\ninside the diff transaction, per statement (ms, median):\n\n');
  const names = [...STATEMENTS.map(([, name]) => name), OTHER];
  const stmt = (state: State, name: string) =>
    summarise(rounds[state].map((r) => r.statements.get(name) ?? 0)).median.toFixed(0);
  printTable(
    ['statement', first, steady],
    names.map((name) => [name, stmt(first, name), stmt(steady, name)]),
  );
  process.stdout.write('\n');
  for (const state of STATES) {
    const tx = summarise(rounds[state].map((r) => r.tx)).median;
    const job = summarise(rounds[state].map((r) => r.job)).median;
    verdict(`diff transaction < 1 s (${state})`, tx < TARGET_TX_MS, `median ${tx.toFixed(0)} ms`);
    verdict(`whole diff job < 3 s (${state})`, job < TARGET_JOB_MS, `median ${job.toFixed(0)} ms`);
  }
}

await main();
