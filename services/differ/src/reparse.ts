import type { ServiceContext } from '@lovsync/shared/context';
import { maybeCompleteRun, withTransaction } from '@lovsync/shared/db';
import { enqueuePendingParses } from './parse-fanout.ts';

export type ReparseSelector = { all: true } | { dataset: string } | { document: string };

/** A reparse that cannot start: nothing is written. */
export class ReparseRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReparseRefusedError';
  }
}

export function describeSelector(s: ReparseSelector): string {
  return 'all' in s ? 'all' : 'dataset' in s ? `dataset ${s.dataset}` : `document ${s.document}`;
}

/**
 * `lovsync reparse`: re-derives documents from the current files' blobs through the normal parse
 * queue. One run (trigger `reparse`) with one file_changes row per selected current file (change
 * `reparse`, old_hash = new_hash = the file's hash: a work item, not a file change), then the parse
 * jobs. Everything after that is an ordinary run: any parser replica takes the jobs, Bull Board shows
 * them, the reconciler re-derives lost ones and the last job completes the run. Refused while
 * another run is running (its jobs would race the reparse over the same documents).
 */
export async function startReparse(
  ctx: ServiceContext,
  selector: ReparseSelector,
): Promise<{ runId: number; files: number }> {
  const { pool } = ctx.database;
  const created = await withTransaction(pool, async (c) => {
    // Serialises reparse requests against each other and against a run being started by one.
    await c.query('SELECT pg_advisory_xact_lock(7415, 12)');
    const running = await c.query<{ id: number }>(
      `SELECT id FROM sync_runs WHERE status = 'running' ORDER BY id LIMIT 1`,
    );
    if (running.rowCount)
      throw new ReparseRefusedError(
        `run ${running.rows[0]!.id} is still running: reparse after it has finished`,
      );
    const dataset = 'dataset' in selector ? selector.dataset : null;
    const document = 'document' in selector ? selector.document : null;
    const run = await c.query<{ id: number }>(
      `INSERT INTO sync_runs (trigger, force, dataset_filter) VALUES ('reparse', false, $1) RETURNING id`,
      [`reparse ${describeSelector(selector)}`],
    );
    const runId = run.rows[0]!.id;
    // The files: every current file (of the dataset), or the current files carrying the document
    // (its file, and any other file recorded as carrying it).
    const ins = await c.query(
      `INSERT INTO file_changes (run_id, dataset, path, change, old_hash, new_hash, old_size, new_size)
       SELECT $1, f.dataset, f.path, 'reparse', f.hash, f.hash, f.size, f.size FROM files f
       WHERE f.status <> 'removed'
         AND ($2::text IS NULL OR f.dataset = $2)
         AND ($3::text IS NULL
              OR EXISTS (SELECT 1 FROM blob_documents b WHERE b.hash = f.hash AND b.document_id = $3)
              OR EXISTS (SELECT 1 FROM documents d WHERE d.document_id = $3 AND d.dataset = f.dataset AND d.path = f.path))
       ORDER BY f.dataset, f.path`,
      [runId, dataset, document],
    );
    const files = ins.rowCount ?? 0;
    if (files === 0)
      throw new ReparseRefusedError(
        dataset !== null
          ? `dataset ${dataset} has no current files`
          : document !== null
            ? `no current file carries document ${document}`
            : 'there are no current files: run a sync (or import-lovlig) first',
      );
    const missing = await c.query<{ dataset: string; path: string }>(
      `SELECT fc.dataset, fc.path FROM file_changes fc
       WHERE fc.run_id = $1 AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.hash = fc.new_hash)
       ORDER BY 1, 2 LIMIT 3`,
      [runId],
    );
    if (missing.rowCount)
      throw new ReparseRefusedError(
        `no stored content for ${missing.rows.map((m) => `${m.dataset}/${m.path}`).join(', ')}${missing.rowCount >= 3 ? ', ...' : ''} ` +
          '(files adopted by import-lovlig): run `lovsync run --force` once so the sync stores their contents, then reparse',
      );
    await c.query(
      `UPDATE sync_runs SET sync_finished_at = now(), datasets_checked = 0,
         datasets_changed = (SELECT count(DISTINCT dataset) FROM file_changes WHERE run_id = $1)
       WHERE id = $1`,
      [runId],
    );
    return { runId, files };
  });
  await enqueuePendingParses(pool, ctx.queues, created.runId);
  await maybeCompleteRun(pool, created.runId, ctx.config.PARSE_FAILURE_THRESHOLD);
  return created;
}
