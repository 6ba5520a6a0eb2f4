/**
 * Chaos convergence: a full cycle on a Lovdata-like corpus with 1 sync, 1 differ and 3 parser
 * processes while random processes are SIGKILLed and restarted, the run's Redis keys are wiped
 * (what a restart of a Redis without persistence leaves) and its Postgres connections are killed
 * (pg_terminate_backend). The final database must equal that of an uninterrupted run.
 *
 * Two crash windows are always hit first (issue 17 points 1 and 8), on two datasets downloaded one
 * at a time (the small fixture laws first, then the large corpus, slowly):
 *   1. the sync SIGKILLed and Redis restarted after the first dataset's manifest committed and
 *      before its diff (no differ yet); the run must end failed and release that manifest;
 *   2. Redis restarted while the next run's sync is downloading, with the sync and the differ's
 *      reconciler alive: that run must not be failed while its sync lives.
 *
 *   pnpm chaos [--docs 3000] [--kills 6] [--seed 1]
 *
 * Exit code 0 when the digests match. The CI suite runs a small size (test/chaos/chaos.int.test.ts).
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { getRun } from '@lovsync/shared/db';
import { requestSync } from '@lovsync/sync';
import { buildTarBz2, fixtureEntries, syntheticCorpus } from '@lovsync/testkit/archive/archive-builder';
import { startEmulator } from '@lovsync/testkit/emulator/server';
import { createTestEnv, deleteRedisPrefix, type TestEnv } from '@lovsync/testkit/support/harness';
import { createTestContext, rows } from '@lovsync/testkit/support/context';
import { parsePending, syncAndDiff } from '@lovsync/testkit/support/cycle';
import { startWorkerProcess, stopProcess } from '@lovsync/testkit/support/processes';

export interface ChaosOptions {
  docs: number;
  kills: number;
  seed: number;
  /** Really restart the Redis server (shutdown nosave + start) instead of wiping this run's keys. Only when nothing else uses it. */
  restartRedis?: boolean;
  log?: (line: string) => void;
}

export interface ChaosResult {
  equal: boolean;
  reference: Record<string, string>;
  chaos: Record<string, string>;
  events: string[];
  /** How many disruptions happened while a run was in progress. */
  disruptions: number;
  /** Statuses the run of window 2 had while its sync was alive after the Redis restart (must be only 'running'). */
  liveRunStatuses: string[];
  runs: number;
  seconds: number;
}

/** Digest of every table users query, without timestamps, serial ids and run ids (runs differ in number). */
export async function convergenceDigest(env: TestEnv): Promise<Record<string, string>> {
  const q: Record<string, string> = {
    files: 'SELECT dataset, path, hash, size FROM files',
    file_changes:
      'SELECT dataset, path, change, old_hash, new_hash, parse_status, parse_error FROM file_changes',
    documents: 'SELECT document_id, refid, dataset, path, source_hash, title, status FROM documents',
    sections:
      'SELECT document_id, section_key, parent_key, kind, number, title, heading_path, text, text_hash, ord FROM sections',
    chunks: 'SELECT chunk_id, document_id, section_key, ord, text, token_count FROM chunks',
    section_changes: 'SELECT document_id, section_key, change, old_text, new_text FROM section_changes',
    document_changes: 'SELECT document_id, change, kind FROM document_changes',
  };
  const out: Record<string, string> = {};
  for (const [t, sql] of Object.entries(q)) {
    const r = await env.database.pool.query(
      `SELECT count(*) AS n, md5(string_agg(x, '|' ORDER BY x)) AS d FROM (SELECT t::text AS x FROM (${sql}) t) s`,
    );
    out[t] = `${r.rows[0].n}:${r.rows[0].d}`;
  }
  return out;
}

async function restartRedisServer(): Promise<void> {
  const { execFileSync } = await import('node:child_process');
  try {
    execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', '6379', 'shutdown', 'nosave'], { stdio: 'ignore' });
  } catch {
    // The connection drops as the server exits.
  }
  execFileSync('redis-server', [
    '--daemonize',
    'yes',
    '--bind',
    '127.0.0.1',
    '--port',
    '6379',
    '--save',
    '',
    '--appendonly',
    'no',
  ]);
  for (let i = 0; i < 50; i++) {
    try {
      execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', '6379', 'ping'], { stdio: 'ignore' });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error('Redis did not come back');
}

function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

export async function runChaos(opts: ChaosOptions): Promise<ChaosResult> {
  const log = opts.log ?? (() => undefined);
  const t0 = Date.now();
  const random = rng(opts.seed);
  const dir = await mkdtemp(join(tmpdir(), 'lovsync-chaos-'));
  const copies = Math.max(1, Math.ceil(opts.docs / 21));
  const BIG = 'lovtidend-avd1-2025.tar.bz2';
  await buildTarBz2(syntheticCorpus({ copies, seed: opts.seed }), join(dir, BIG));
  await buildTarBz2(fixtureEntries('gjeldende-lover'), join(dir, 'gjeldende-lover.tar.bz2'));
  const DATASETS = 2;
  const emu = await startEmulator({ dir });
  const ref = await createTestEnv('chaos_ref');
  const env = await createTestEnv('chaos');
  const events: string[] = [];
  const note = (e: string) => {
    events.push(e);
    log(e);
  };
  try {
    // Reference: an uninterrupted run.
    const refCtx = createTestContext(ref, { LOVDATA_API_URL: emu.url });
    const { runId: refRun } = await syncAndDiff(refCtx);
    await parsePending(refCtx, refRun);
    await refCtx.close();
    const reference = await convergenceDigest(ref);
    note(`reference run: ${reference.files}`);

    // Chaos: separate processes, killed and restarted at random moments.
    const penv = env.env({
      LOVDATA_API_URL: emu.url,
      JOB_LOCK_SECONDS: '2',
      PARSER_CONCURRENCY: '2',
      SYNC_STALE_SECONDS: '5',
      LOVDATA_MAX_DOWNLOAD_CONCURRENCY: '1',
    });
    const roles = ['sync', 'differ', 'parser', 'parser', 'parser'];
    const start = (role: string) => startWorkerProcess(role, penv, role === 'differ' ? ['2000'] : []);
    // Window 1 needs a manifest without its diff: the differ starts only after it.
    // A start that fails (not ready in time) must not leave the others running on a shared machine.
    const started = await Promise.allSettled(roles.map((role) => (role === 'differ' ? null : start(role))));
    const failedStart = started.find((r) => r.status === 'rejected');
    if (failedStart) {
      await Promise.all(
        started.map((r) => r.status === 'fulfilled' && r.value && stopProcess(r.value, 'SIGKILL')),
      );
      throw failedStart.reason;
    }
    const procs = started.map((r) => (r.status === 'fulfilled' ? r.value : null));
    const ctx = createTestContext(env, { LOVDATA_API_URL: emu.url });
    let runs = 0;
    const liveRunStatuses: string[] = [];
    const until = async <T>(what: string, fn: () => Promise<T | undefined>): Promise<T> => {
      const stop = Date.now() + 120_000;
      for (;;) {
        const v = await fn();
        if (v !== undefined) return v;
        if (Date.now() > stop) throw new Error(`chaos: not within 120 s: ${what}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const datasetState = (runId: number, dataset: string) =>
      rows<{ status: string }>(env, 'SELECT status FROM run_datasets WHERE run_id = $1 AND dataset = $2', [
        runId,
        dataset,
      ]).then((r) => r[0]?.status);
    const wipeRedis = async (why: string) => {
      if (opts.restartRedis) {
        await restartRedisServer();
        note(`restarted the Redis server (nothing persisted) ${why}`);
      } else {
        await deleteRedisPrefix(env.prefix);
        note(`wiped the run's Redis keys (what a restart without persistence leaves) ${why}`);
      }
    };
    try {
      // Window 1 (#17.1): SIGKILL of the sync + Redis restart after a manifest, before its diff.
      // ~8 s for the big archive: longer than SYNC_STALE_SECONDS, so a wrongly failed live run would show.
      const slowBig = Math.max(20_000, Math.round((await stat(join(dir, BIG))).size / 8));
      emu.setFault({ kind: 'slow', bytesPerSecond: slowBig, dataset: BIG, count: 1 });
      await requestSync(ctx.queues, { trigger: 'manual' });
      runs++;
      const run1 = await until('window 1: a manifest without its diff', async () => {
        const r = await rows<{ run_id: number }>(
          env,
          `SELECT a.run_id FROM run_datasets a JOIN run_datasets b ON b.run_id = a.run_id AND b.dataset = $1
           WHERE a.dataset = 'gjeldende-lover.tar.bz2' AND a.status = 'manifested' AND b.status = 'downloading'`,
          [BIG],
        );
        return r[0]?.run_id;
      });
      await stopProcess(procs[0]!, 'SIGKILL');
      await wipeRedis(
        `after run ${run1}'s first manifest committed, before its diff, with the sync SIGKILLed`,
      );
      emu.setFault(null);
      const differ = roles.indexOf('differ');
      [procs[0], procs[differ]] = await Promise.all([start('sync'), start('differ')]);
      await until(`run ${run1} ended by the reconciler`, async () =>
        (await getRun(env.database.pool, run1))!.status !== 'running' ? true : undefined,
      );
      const ended1 = (await getRun(env.database.pool, run1))!;
      note(`run ${run1} ${ended1.status}: ${ended1.error}`);
      if ((await datasetState(run1, 'gjeldende-lover.tar.bz2')) === 'manifested')
        throw new Error(`chaos: run ${run1} ended but kept its manifest`);

      // Window 2 (#17.8): Redis restarted while the sync downloads; the sync and differ stay alive.
      emu.setFault({ kind: 'slow', bytesPerSecond: slowBig, dataset: BIG, count: 1 });
      await requestSync(ctx.queues, { trigger: 'manual' });
      runs++;
      const run2 = await until('window 2: the big archive downloading', async () => {
        const r = await rows<{ run_id: number }>(
          env,
          `SELECT run_id FROM run_datasets WHERE dataset = $1 AND status = 'downloading' AND run_id > $2`,
          [BIG, run1],
        );
        return r[0]?.run_id;
      });
      await wipeRedis(`while run ${run2}'s sync downloads (sync alive)`);
      while ((await datasetState(run2, BIG)) === 'downloading') {
        liveRunStatuses.push((await getRun(env.database.pool, run2))!.status);
        await new Promise((r) => setTimeout(r, 500));
      }
      emu.setFault(null);
      note(`run ${run2} while its sync lived on: ${[...new Set(liveRunStatuses)].join(', ')}`);

      const pendingRun = async (): Promise<number | null> => {
        const r = await rows<{ id: number }>(
          env,
          `SELECT id FROM sync_runs WHERE status = 'running' ORDER BY id DESC LIMIT 1`,
        );
        return r[0]?.id ?? null;
      };
      // Every kind of disruption at least once, early in the run, then random process kills.
      const plan = ['kill', 'redis', 'kill', 'postgres', 'kill'];
      let done = 0;
      let requestedAfter = 0;
      const deadline = Date.now() + 10 * 60_000;
      for (;;) {
        if (Date.now() > deadline) throw new Error('chaos run did not converge within 10 minutes');
        await new Promise((r) => setTimeout(r, 150 + random() * 450));
        const running = await pendingRun();
        if (done < Math.max(opts.kills, plan.length) && running !== null) {
          const what = plan[done] ?? 'kill';
          if (what === 'kill') {
            const i = Math.floor(random() * procs.length);
            await stopProcess(procs[i]!, 'SIGKILL');
            note(`SIGKILL ${roles[i]} (#${i}) during run ${running}`);
            procs[i] = await start(roles[i]!);
          } else if (what === 'redis') {
            await wipeRedis(`during run ${running}`);
          } else {
            const k = await env.database.pool.query(
              `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
              [env.name],
            );
            note(`terminated ${k.rows[0].n} Postgres connections during run ${running}`);
          }
          done++;
          continue;
        }
        // Converged when the last run finished, every dataset is synced and nothing is left to parse;
        // a run that ended with a dataset not synced (failed by a disruption) is followed by another.
        if (running === null) {
          const last = (await rows<{ id: number }>(env, 'SELECT max(id) AS id FROM sync_runs'))[0]!.id;
          const run = await getRun(env.database.pool, last);
          const ds = await rows(env, 'SELECT 1 FROM datasets WHERE last_modified IS NOT NULL');
          const q = await ctx.queues.parse.getJobCounts('waiting', 'active', 'delayed');
          const idle = (q.waiting ?? 0) + (q.active ?? 0) + (q.delayed ?? 0) === 0;
          if (run && ds.length === DATASETS && idle) break;
          if (run && ds.length < DATASETS && last !== requestedAfter) {
            note(`run ${last} ${run.status} (${run.error}); requesting another sync`);
            requestedAfter = last;
            await requestSync(ctx.queues, { trigger: 'manual' });
            runs++;
          }
        }
      }
      const chaos = await convergenceDigest(env);
      const equal = JSON.stringify(chaos) === JSON.stringify(reference);
      return {
        equal,
        reference,
        chaos,
        events,
        disruptions: done + 2,
        liveRunStatuses,
        runs,
        seconds: Math.round((Date.now() - t0) / 1000),
      };
    } finally {
      await Promise.all(procs.map((p) => p && stopProcess(p, 'SIGKILL')));
      await ctx.close();
    }
  } finally {
    await emu.close();
    await ref.teardown();
    await env.teardown();
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      docs: { type: 'string', default: '3000' },
      kills: { type: 'string', default: '6' },
      seed: { type: 'string', default: '1' },
      'restart-redis': { type: 'boolean', default: false },
    },
  });
  const result = await runChaos({
    docs: Number(values.docs),
    kills: Number(values.kills),
    seed: Number(values.seed),
    restartRedis: values['restart-redis'],
    log: (l) => process.stdout.write(`${l}\n`),
  });
  process.stdout.write(
    `${JSON.stringify({ equal: result.equal, disruptions: result.disruptions, runs: result.runs, seconds: result.seconds, chaos: result.chaos }, null, 2)}\n`,
  );
  process.exitCode = result.equal ? 0 : 1;
}
