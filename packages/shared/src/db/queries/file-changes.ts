/**
 * file_changes.parse_status: every changed file of a run is inserted `pending` by the diff (the
 * diff statement, a marked hot path in services/differ/src/hash-diff.ts) and leaves it once, to
 * `succeeded` (recordParseOutcome, markParseCollision, markParseSucceeded: the parse job, through
 * services/parser/src/document-store.ts) or `failed` (markParseFailed). The whole lifecycle is
 * drawn in runs.ts.
 */
import type pg from 'pg';

type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

export type ParseStatus = 'pending' | 'succeeded' | 'failed';

/**
 * pending -> failed: the file's parse job failed for good (seen by the reconciler). Returns whether
 * the row was still pending (a row already decided is left as it is).
 */
export async function markParseFailed(
  db: Queryable,
  p: { fileChangeId: number; error: string },
): Promise<boolean> {
  const res = await db.query(
    `UPDATE file_changes SET parse_status = 'failed', parse_error = $2, parsed_at = now() WHERE id = $1 AND parse_status = 'pending'`,
    [p.fileChangeId, p.error],
  );
  return (res.rowCount ?? 0) > 0;
}

/**
 * pending -> succeeded with no document written by this file: not a document, superseded by a newer
 * run, a removal that keeps or tombstones its document. `note` goes to parse_error (null: none);
 * `documentId`, when given, is recorded (else the row keeps its own). A row already decided is left.
 */
export async function markParseSucceeded(
  db: Queryable,
  p: { fileChangeId: number; note?: string | null; documentId?: string | null },
): Promise<void> {
  await db.query(
    `UPDATE file_changes SET parse_status = 'succeeded', parse_error = $2, parsed_at = now(),
       document_id = COALESCE($3, document_id) WHERE id = $1 AND parse_status = 'pending'`,
    [p.fileChangeId, p.note ?? null, p.documentId ?? null],
  );
}

/**
 * pending -> succeeded for a file that lost a dokid collision: the document is kept by the file
 * `keptBy` (dataset/path), recorded in collision and, readable, in parse_error.
 */
export async function markParseCollision(
  db: Queryable,
  p: { fileChangeId: number; documentId: string; keptBy: string },
): Promise<void> {
  await db.query(
    `UPDATE file_changes SET parse_status = 'succeeded', parsed_at = now(), document_id = $2, collision = $3,
       parse_error = $4 WHERE id = $1 AND parse_status = 'pending'`,
    [p.fileChangeId, p.documentId, p.keptBy, `dokid collision: ${p.documentId} is kept by ${p.keptBy}`],
  );
}

/** What a parse job that wrote its document records: the run's document change (if any) and its file's row. */
export interface ParseOutcomeRow {
  runId: number;
  fileChangeId: number;
  documentId: string;
  /** null: the write changed nothing, no document_changes row. */
  change: 'added' | 'modified' | null;
  kind: 'amendment' | 'editorial' | 'reparse' | null;
  dataset: string;
  path: string;
  sectionsAdded: number;
  sectionsModified: number;
  sectionsRemoved: number;
  /** The other file (dataset/path) of this run carrying the same document, when there is one. */
  collision: string | null;
}

/**
 * pending -> succeeded for a file whose document was written, in the parse transaction: the run's
 * document_changes row (upserted when `change` is not null) and the file_changes row in ONE
 * statement (named, prepared once per connection): one round trip per parsed file.
 */
export async function recordParseOutcome(db: Queryable, p: ParseOutcomeRow): Promise<void> {
  await db.query({
    name: 'parser-record-outcome',
    text: `WITH dc AS (
         INSERT INTO document_changes (run_id, document_id, change, kind, dataset, path, sections_added, sections_modified, sections_removed)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 WHERE $3::text IS NOT NULL
         ON CONFLICT (run_id, document_id) DO UPDATE SET change = EXCLUDED.change, kind = EXCLUDED.kind, dataset = EXCLUDED.dataset,
           path = EXCLUDED.path, sections_added = EXCLUDED.sections_added, sections_modified = EXCLUDED.sections_modified,
           sections_removed = EXCLUDED.sections_removed
       )
       UPDATE file_changes SET parse_status = 'succeeded', parse_error = NULL, parsed_at = now(), document_id = $2,
         collision = COALESCE($11, collision)
       WHERE id = $10 AND parse_status = 'pending'`,
    values: [
      p.runId,
      p.documentId,
      p.change,
      p.kind,
      p.dataset,
      p.path,
      p.sectionsAdded,
      p.sectionsModified,
      p.sectionsRemoved,
      p.fileChangeId,
      p.collision,
    ],
  });
}
