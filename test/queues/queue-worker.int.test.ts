/**
 * createQueueWorker (issue 11 point 2), on the real Redis: the one place that validates payloads,
 * gives each attempt its child logger and takes its concurrency from the queue and the config.
 */
import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Logger } from '@lovsync/shared/logger';
import { diffJobId, diffQueue, enqueueDiff, parseQueue, syncQueue } from '@lovsync/shared/queues';
import { createQueueWorker, payloadLost } from '@lovsync/shared/queues/worker';
import type { Runtime } from '@lovsync/shared/runtime';
import { createTestContext } from '@lovsync/testkit/support/context';
import { createTestEnv, type TestEnv } from '@lovsync/testkit/support/harness';

interface Line {
  level: string;
  bindings: Record<string, unknown>;
  obj: Record<string, unknown>;
  msg: string | undefined;
}

/** A pino-shaped logger that records every line with the bindings of its child loggers. */
function recordingLogger(): { log: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const make = (bindings: Record<string, unknown>): Logger => {
    const l: Record<string, unknown> = {
      level: 'trace',
      child: (b: Record<string, unknown>) => make({ ...bindings, ...b }),
    };
    for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace']) {
      l[level] = (obj: unknown, msg?: string) =>
        lines.push(
          typeof obj === 'string'
            ? { level, bindings, obj: {}, msg: obj }
            : { level, bindings, obj: obj as Record<string, unknown>, msg },
        );
    }
    return l as unknown as Logger;
  };
  return { log: make({}), lines };
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let env: TestEnv;
let rt: Runtime;
beforeAll(async () => {
  env = await createTestEnv('queue_worker');
  rt = createTestContext(env, { PARSER_CONCURRENCY: '3' });
});
afterAll(async () => {
  await rt?.close();
  await env?.teardown();
});

describe('createQueueWorker', () => {
  it('fails an invalid payload at once (UnrecoverableError: no retry), names the queue, and never calls the handler', async () => {
    const rec = recordingLogger();
    let called = 0;
    const worker = createQueueWorker({ ...rt, log: rec.log }, diffQueue, async () => {
      called++;
      return 'done';
    });
    try {
      const job = await rt.queues.diff.add('diff', { runId: 'one', dataset: '' } as never, {
        jobId: 'invalid-diff',
      });
      expect(job.opts.attempts).toBe(10);
      const failed = await waitFor('the job to fail', async () => {
        const j = await rt.queues.diff.getJob('invalid-diff');
        return j && (await j.isFailed()) ? j : undefined;
      });
      expect(failed.attemptsMade).toBe(1);
      expect(failed.failedReason).toMatch(/^invalid diff payload: /);
      expect(called).toBe(0);
      const line = await waitFor('the failed line', async () =>
        rec.lines.find((l) => l.msg === 'diff job attempt failed'),
      );
      expect(line).toMatchObject({
        level: 'warn',
        bindings: { service: 'differ', queue: 'diff' },
        obj: { jobId: 'invalid-diff', attempt: 1, err: expect.stringMatching(/invalid diff payload/) },
      });
    } finally {
      await worker.close();
    }
  });

  it('drops a job whose Redis hash vanished under its id (Redis restarted or flushed mid-run): no handler call, no failure, a warning', async () => {
    const rec = recordingLogger();
    let called = 0;
    await rt.queues.diff.add('diff', { runId: 9, dataset: 'lost.tar.bz2' } as never, { jobId: 'lost-diff' });
    // What a flush leaves behind: the id still in the wait list, its hash gone.
    expect(await rt.workerConnection.del(rt.queues.diff.toKey('lost-diff'))).toBe(1);
    const worker = createQueueWorker({ ...rt, log: rec.log }, diffQueue, async () => {
      called++;
      return 'done';
    });
    try {
      const line = await waitFor('the warning', async () =>
        rec.lines.find((l) => l.msg?.includes('arrived without its data')),
      );
      expect(line).toMatchObject({ level: 'warn', bindings: { queue: 'diff', jobId: 'lost-diff' } });
      await new Promise((r) => setTimeout(r, 300));
      expect(called).toBe(0);
      // Not failed: a failed parse job would fail its file (the reconciler records it); a lost one
      // is re-derived from Postgres instead.
      // Absent altogether, not left in the active list (where BullMQ, unable to finish a job without
      // its hash, would leave it and the reconciler would take it for live work for ever).
      expect(await rt.queues.diff.getJobState('lost-diff')).toBe('unknown');
      expect(await rt.workerConnection.lrange(rt.queues.diff.toKey('active'), 0, -1)).not.toContain(
        'lost-diff',
      );
      expect(rec.lines.some((l) => l.msg === 'diff job attempt failed')).toBe(false);
      // An invalid payload that is not empty is still a failure (first test): only {} counts as lost.
      expect(payloadLost({})).toBe(true);
      expect(payloadLost(undefined)).toBe(true);
      expect(payloadLost({ runId: 'one' })).toBe(false);
      expect(payloadLost([])).toBe(false);
    } finally {
      await worker.close();
    }
  });

  it('hands the handler the validated data (defaults applied) and a child logger { service, queue, jobId, attempt }', async () => {
    const rec = recordingLogger();
    const seen: { data: unknown; job: Job }[] = [];
    const worker = createQueueWorker({ ...rt, log: rec.log }, diffQueue, async (data, job, { log }) => {
      seen.push({ data, job });
      log.info('handled');
      return 'ok';
    });
    try {
      // The producer owns the job id: the same (run, dataset) twice is one job.
      await enqueueDiff(rt.queues, { runId: 7, dataset: 'a.tar.bz2', vanished: false });
      await enqueueDiff(rt.queues, { runId: 7, dataset: 'a.tar.bz2', vanished: false });
      // Written without `vanished`: the schema's default reaches the handler.
      await rt.queues.diff.add('diff', { runId: 8, dataset: 'b.tar.bz2' } as never, { jobId: 'raw-diff' });
      await waitFor('both jobs', async () => (seen.length >= 2 ? true : undefined));
      await new Promise((r) => setTimeout(r, 300));
      expect(seen.map((s) => s.job.id).sort()).toEqual([diffJobId(7, 'a.tar.bz2'), 'raw-diff']);
      expect(seen.find((s) => s.job.id === 'raw-diff')!.data).toEqual({
        runId: 8,
        dataset: 'b.tar.bz2',
        vanished: false,
      });
      const handled = rec.lines.filter((l) => l.msg === 'handled');
      expect(
        handled.map((l) => l.bindings).sort((a, b) => String(a.jobId).localeCompare(String(b.jobId))),
      ).toEqual([
        { service: 'differ', queue: 'diff', jobId: diffJobId(7, 'a.tar.bz2'), attempt: 1 },
        { service: 'differ', queue: 'diff', jobId: 'raw-diff', attempt: 1 },
      ]);
    } finally {
      await worker.close();
    }
  });

  it('takes its concurrency from the queue definition and the config, unless told otherwise', async () => {
    const make = (q: typeof parseQueue | typeof syncQueue | typeof diffQueue, concurrency?: number) =>
      createQueueWorker(rt, q as typeof diffQueue, async () => null, { autorun: false, concurrency });
    const workers = [make(parseQueue), make(syncQueue), make(diffQueue), make(parseQueue, 5)];
    try {
      expect(workers.map((w) => w.concurrency)).toEqual([3, 1, 2, 5]);
    } finally {
      await Promise.all(workers.map((w) => w.close()));
    }
  });
});

describe('the sync contract', () => {
  it('declares the runId a started sync writes into its job: it survives validation, a bad one is refused', () => {
    const base = { trigger: 'manual', requestedAt: new Date().toISOString() };
    expect(syncQueue.schema.parse({ ...base, runId: 12 })).toMatchObject({ runId: 12, force: false });
    expect(syncQueue.schema.parse(base)).not.toHaveProperty('runId');
    expect(syncQueue.schema.safeParse({ ...base, runId: '12' }).success).toBe(false);
    expect(syncQueue.schema.safeParse({ ...base, runId: 0 }).success).toBe(false);
  });
});
