import type { Worker } from 'bullmq';
import type { Config } from '@lovsync/shared/config';
import { getRun, runMigrations, type RunRow } from '@lovsync/shared/db';
import type { Logger } from '@lovsync/shared/logger';
import { assertRedisReachable } from '@lovsync/shared/redis';
import { reconcile, startReparse, type ReparseSelector } from '@lovsync/differ';
import { createParseWorker } from '@lovsync/parser';
import { createRuntime } from '@lovsync/shared/runtime';

export interface ReparseResult {
  run: RunRow;
  files: number;
  /** document_changes of the run by change/kind ('modified/reparse': 12). */
  documents: Record<string, number>;
}

/** The one selector of `lovsync reparse`, or a clear error. */
export function reparseSelector(o: { all?: boolean; dataset?: string; document?: string }): ReparseSelector {
  const given = [o.all ? 'all' : null, o.dataset, o.document].filter((x) => x !== null && x !== undefined);
  if (given.length !== 1) throw new Error('reparse needs exactly one of --all, --dataset S, --document ID');
  if (o.all) return { all: true };
  if (o.dataset !== undefined) {
    if (!o.dataset.trim()) throw new Error('--dataset needs a dataset name');
    return { dataset: o.dataset };
  }
  if (!o.document!.trim()) throw new Error('--document needs a document id');
  return { document: o.document! };
}

/**
 * `lovsync reparse`: enqueue the reparse run's parse jobs, and (unless `wait` is false) take part
 * in them with an in-process parse worker until the run has completed; running parser services share
 * the jobs either way.
 */
export async function reparseCommand(
  config: Config,
  selector: ReparseSelector,
  opts: { wait: boolean; log?: Logger },
): Promise<ReparseResult> {
  await runMigrations(config.DATABASE_URL);
  await assertRedisReachable(config.REDIS_URL, config.REDIS_CONNECT_TIMEOUT_SECONDS);
  const rt = createRuntime(config, { log: opts.log, service: 'reparse' });
  const workers: Worker[] = [];
  try {
    const { runId, files } = await startReparse(rt, selector);
    let run = await getRun(rt.database.pool, runId);
    if (opts.wait) {
      workers.push(createParseWorker(rt));
      let lastReconcile = Date.now();
      while (run && run.status === 'running') {
        await new Promise((r) => setTimeout(r, 200));
        if (Date.now() - lastReconcile > 10_000) {
          await reconcile(rt);
          lastReconcile = Date.now();
        }
        run = await getRun(rt.database.pool, runId);
      }
    }
    if (!run) throw new Error(`run ${runId} disappeared`);
    const kinds = await rt.database.pool.query<{ k: string; n: number }>(
      `SELECT change || '/' || COALESCE(kind, '-') AS k, count(*)::int AS n FROM document_changes
       WHERE run_id = $1 GROUP BY 1 ORDER BY 1`,
      [runId],
    );
    return { run, files, documents: Object.fromEntries(kinds.rows.map((r) => [r.k, r.n])) };
  } finally {
    await Promise.all(workers.map((w) => w.close()));
    await rt.close();
  }
}
