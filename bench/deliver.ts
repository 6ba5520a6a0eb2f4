/**
 * bench/deliver (issue 14): a cold `lovsync run` of /work/shared/corpus (2,557 documents, three real
 * archives) from the emulator with a deliver worker process and two webhook subscriptions on a
 * local receiver: `--all` (answers 200 at once) and one whose receiver never answers (every POST
 * runs into DELIVERY_TIMEOUT_SECONDS). Reports, from the run's own records:
 *   - parse time: first..last parsed_at of the run's file_changes;
 *   - run completion lag: finished_at minus the last parsed_at (what deliveries could delay: they
 *     do not, they start only after completion, on their own queue and process);
 *   - delivery time: the --all subscription's last delivered_at minus the run's finished_at, and
 *     (parse time + delivery time) / parse time, the target being <= 1.2x.
 *
 *   pnpm bench:deliver      (once; the machine is shared, so timings are noisy)
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createSubscription } from '@lovsync/shared/db';
import { startEmulator } from '@lovsync/testkit/emulator/server';
import { createTestEnv } from '@lovsync/testkit/support/harness';
import { startWorkerProcess, stopProcess } from '@lovsync/testkit/support/processes';
import { startReceiver } from '@lovsync/testkit/support/webhook-receiver';
import { ROOT } from './lib/proc.ts';

const exec = promisify(execFile);
const CORPUS = process.env.CORPUS_DIR ?? '/work/shared/corpus';
const TARGET = 1.2;

const env = await createTestEnv('bench_deliver');
const emu = await startEmulator({ dir: CORPUS });
const receiver = await startReceiver();
receiver.behave = (path) => (path === '/slow' ? 'hang' : 200);
const childEnv = env.env({ LOVDATA_API_URL: emu.url, DELIVERY_TIMEOUT_SECONDS: '5', LOG_LEVEL: 'warn' });
const deliver = await startWorkerProcess('deliver', childEnv);
try {
  const pool = env.database.pool;
  const all = await createSubscription(pool, {
    url: `${receiver.url}/all`,
    secret: 'bench-secret-0123456789',
    all: true,
  });
  await createSubscription(pool, {
    url: `${receiver.url}/slow`,
    secret: 'bench-secret-0123456789',
    all: true,
  });
  const t0 = Date.now();
  const { stdout } = await exec(process.execPath, ['apps/lovsync/bin/lovsync.js', 'run', '--json'], {
    cwd: ROOT,
    env: { ...process.env, ...childEnv },
    maxBuffer: 64 * 1024 * 1024,
  });
  const runId = (JSON.parse(stdout) as { run: { id: number; status: string } }).run.id;
  const wallMs = Date.now() - t0;
  // Wait until every delivery of the --all subscription for this run is no longer pending.
  for (;;) {
    const r = await pool.query<{ pending: number; total: number }>(
      `SELECT count(*) FILTER (WHERE status = 'pending')::int AS pending, count(*)::int AS total
       FROM deliveries WHERE subscription_id = $1 AND run_id = $2`,
      [all.id, runId],
    );
    if (r.rows[0]!.total > 0 && r.rows[0]!.pending === 0) break;
    if (Date.now() - t0 > 30 * 60_000) throw new Error('deliveries still pending after 30 min');
    await new Promise((res) => setTimeout(res, 200));
  }
  const m = (
    await pool.query<{
      status: string;
      docs: number;
      events: number;
      first_parsed: Date;
      last_parsed: Date;
      finished: Date;
      delivered: Date;
      deliveries: number;
      succeeded: number;
      slow_attempts: number;
    }>(
      `SELECT r.status, (SELECT count(*)::int FROM document_changes WHERE run_id = r.id) AS docs,
         (SELECT count(*)::int FROM outbox WHERE run_id = r.id) AS events,
         (SELECT min(parsed_at) FROM file_changes WHERE run_id = r.id) AS first_parsed,
         (SELECT max(parsed_at) FROM file_changes WHERE run_id = r.id) AS last_parsed,
         r.finished_at AS finished,
         (SELECT max(delivered_at) FROM deliveries WHERE run_id = r.id AND subscription_id = $2) AS delivered,
         (SELECT count(*)::int FROM deliveries WHERE run_id = r.id AND subscription_id = $2) AS deliveries,
         (SELECT count(*)::int FROM deliveries WHERE run_id = r.id AND subscription_id = $2 AND status = 'succeeded') AS succeeded,
         (SELECT COALESCE(sum(attempts), 0)::int FROM deliveries WHERE run_id = r.id AND subscription_id <> $2) AS slow_attempts
       FROM sync_runs r WHERE r.id = $1`,
      [runId, all.id],
    )
  ).rows[0]!;
  const parseMs = m.last_parsed.getTime() - m.first_parsed.getTime();
  const lagMs = m.finished.getTime() - m.last_parsed.getTime();
  const deliverMs = m.delivered.getTime() - m.finished.getTime();
  const ratio = (parseMs + deliverMs) / parseMs;
  const received = new Set(
    receiver.requests.filter((r) => r.path === '/all').map((r) => r.headers['lovsync-delivery']),
  );
  console.log(
    [
      `run ${runId} ${m.status}: ${m.docs} documents changed, ${m.events} outbox events, lovsync run wall ${(wallMs / 1000).toFixed(1)} s`,
      `parse time (first..last parsed_at):        ${(parseMs / 1000).toFixed(2)} s`,
      `run completion lag after the last parse:   ${lagMs} ms`,
      `--all deliveries: ${m.deliveries} batches, ${m.succeeded} succeeded, ${received.size} distinct delivery ids received`,
      `delivery time after run completion:        ${(deliverMs / 1000).toFixed(2)} s`,
      `(parse + delivery) / parse:                ${ratio.toFixed(3)}x (target <= ${TARGET}x: ${ratio <= TARGET ? 'met' : 'MISSED'})`,
      `hanging receiver: ${m.slow_attempts} attempt(s) so far, each cut at 5 s; it delayed neither the run nor the --all deliveries`,
    ].join('\n'),
  );
} finally {
  await stopProcess(deliver, 'SIGTERM');
  await receiver.close();
  await emu.close();
  await env.teardown();
}
