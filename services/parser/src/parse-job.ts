import type pg from 'pg';
import type { ServiceContext } from '@lovsync/shared/context';
import { maybeCompleteRun, withTransaction } from '@lovsync/shared/db';
import type { ParseJobData } from '@lovsync/shared/queues';
import {
  diffSections,
  insertSectionChanges,
  replaceDocumentContent,
  upsertDocument,
  type SectionChange,
} from './document-writer.ts';
import { InvalidUtf8Error } from '@lovsync/shared/blob-store';
import { extractDocument, MalformedDocumentError, type ExtractedDocument } from './extract/index.ts';
import { recordChangeEvents, stageChunkChanges } from './change-events.ts';

export type ParseOutcome =
  | { outcome: 'already-done' }
  | { outcome: 'not-a-document' }
  | { outcome: 'superseded'; byRun: number }
  | { outcome: 'parsed'; documentId: string; change: 'added' | 'modified' | null; sectionChanges: number }
  | { outcome: 'removed'; documentId: string }
  | { outcome: 'kept'; documentId: string | null; reason: string };

interface DocumentState {
  status: 'active' | 'removed';
  last_run_id: number;
  last_changed_by: string | null;
  last_change_in_force: string | null;
  title: string;
}

/**
 * Locks the file_changes row; with `documentId`, also takes the document's advisory lock in the
 * same round trip (jobs of different files can carry the same dokid: renamed archives).
 */
async function lockPendingChange(c: pg.PoolClient, id: number, documentId?: string): Promise<boolean> {
  const r = await c.query<{ parse_status: string }>(
    documentId === undefined
      ? {
          name: 'parser-lock-change',
          text: 'SELECT parse_status FROM file_changes WHERE id = $1 FOR UPDATE',
          values: [id],
        }
      : {
          name: 'parser-lock-change-document',
          text: `SELECT parse_status, pg_advisory_xact_lock(hashtextextended($2, 7415)) FROM file_changes WHERE id = $1 FOR UPDATE`,
          values: [id, documentId],
        },
  );
  return r.rows[0]?.parse_status === 'pending';
}

async function markSucceeded(
  c: Pick<pg.PoolClient, 'query'>,
  id: number,
  note: string | null = null,
): Promise<void> {
  await c.query(
    `UPDATE file_changes SET parse_status = 'succeeded', parse_error = $2, parsed_at = now() WHERE id = $1 AND parse_status = 'pending'`,
    [id, note],
  );
}

/** Records a parse job's final failure on its file_changes row (kept when it was already final). */
export async function markFailed(pool: pg.Pool, id: number, error: string): Promise<void> {
  await pool.query(
    `UPDATE file_changes SET parse_status = 'failed', parse_error = $2, parsed_at = now() WHERE id = $1 AND parse_status = 'pending'`,
    [id, error.slice(0, 2000)],
  );
}

async function lockDocument(
  c: pg.PoolClient,
  documentId: string,
  opts: { advisoryHeld?: boolean } = {},
): Promise<DocumentState | undefined> {
  // Jobs of different files can carry the same dokid (renamed archives): serialise them. The read
  // below is a statement of its own, so its snapshot is taken after the lock was granted.
  if (!opts.advisoryHeld)
    await c.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 7415))', [documentId]);
  const r = await c.query<DocumentState>({
    name: 'parser-lock-document',
    text: `SELECT status, last_run_id, last_changed_by, last_change_in_force::text AS last_change_in_force, title
     FROM documents WHERE document_id = $1 FOR UPDATE`,
    values: [documentId],
  });
  return r.rows[0];
}

/**
 * Applies one added/modified file: document upsert, sections/chunks/cross-references replaced,
 * section_changes and document_changes against the previous version, file_changes marked, all in
 * one transaction. A job whose effect is committed does nothing; an older run never overwrites a
 * newer one. A document tombstoned earlier in the same run (its file moved to another archive) is
 * revived and compared with the version before the tombstone, so a rename leaves no trace.
 */
async function applyParsed(
  ctx: ServiceContext,
  data: ParseJobData,
  doc: ExtractedDocument,
): Promise<ParseOutcome> {
  return withTransaction(ctx.database.pool, async (c) => {
    if (!(await lockPendingChange(c, data.fileChangeId, doc.documentId))) return { outcome: 'already-done' };
    const prev = await lockDocument(c, doc.documentId, { advisoryHeld: true });
    if (prev && prev.last_run_id > data.runId) {
      await markSucceeded(c, data.fileChangeId, `superseded by run ${prev.last_run_id}`);
      return { outcome: 'superseded', byRun: prev.last_run_id };
    }
    let revived = false;
    if (prev?.status === 'removed') {
      const undo = await c.query(
        `DELETE FROM document_changes WHERE run_id = $1 AND document_id = $2 AND change = 'removed'`,
        [data.runId, doc.documentId],
      );
      if (undo.rowCount) {
        await c.query(
          `DELETE FROM section_changes WHERE run_id = $1 AND document_id = $2 AND change = 'removed'`,
          [data.runId, doc.documentId],
        );
        revived = true;
      }
    }
    const isNew = !prev || (prev.status === 'removed' && !revived);
    let changes: SectionChange[] = [];
    if (!isNew) {
      const old = await c.query(
        'SELECT section_key, text_hash, text, number, heading_path FROM sections WHERE document_id = $1',
        [doc.documentId],
      );
      changes = diffSections(old.rows, doc.sections);
    }
    const metadataMoved =
      !!prev &&
      (prev.last_changed_by !== doc.lastChangedBy ||
        prev.last_change_in_force !== doc.lastChangeInForce ||
        prev.title !== doc.title);
    await upsertDocument(c, doc, {
      dataset: data.dataset,
      path: data.path,
      sourceHash: data.newHash!,
      runId: data.runId,
    });
    await stageChunkChanges(c, data.runId, doc.documentId);
    await replaceDocumentContent(c, doc, prev !== undefined);
    let change: 'added' | 'modified' | null = null;
    if (isNew) change = 'added';
    else if (changes.length || metadataMoved) change = 'modified';
    if (change === 'modified') await insertSectionChanges(c, data.runId, doc.documentId, changes);
    const amendment =
      !!prev &&
      (prev.last_changed_by !== doc.lastChangedBy || prev.last_change_in_force !== doc.lastChangeInForce);
    const n = (k: SectionChange['change']) => changes.filter((x) => x.change === k).length;
    // The content hash -> dokid mapping, the document_changes row (when something changed) and the
    // file_changes outcome, in one statement.
    await c.query({
      name: 'parser-record-outcome',
      text: `WITH bd AS (
         INSERT INTO blob_documents (hash, document_id) VALUES ($1, $2)
         ON CONFLICT (hash) DO UPDATE SET document_id = EXCLUDED.document_id
       ), dc AS (
         INSERT INTO document_changes (run_id, document_id, change, kind, dataset, path, sections_added, sections_modified, sections_removed)
         SELECT $3, $2, $4, $5, $6, $7, $8, $9, $10 WHERE $4::text IS NOT NULL
         ON CONFLICT (run_id, document_id) DO UPDATE SET change = EXCLUDED.change, kind = EXCLUDED.kind, dataset = EXCLUDED.dataset,
           path = EXCLUDED.path, sections_added = EXCLUDED.sections_added, sections_modified = EXCLUDED.sections_modified,
           sections_removed = EXCLUDED.sections_removed
       )
       UPDATE file_changes SET parse_status = 'succeeded', parse_error = NULL, parsed_at = now()
       WHERE id = $11 AND parse_status = 'pending'`,
      values: [
        data.newHash,
        doc.documentId,
        data.runId,
        change,
        change === 'modified' ? (amendment ? 'amendment' : 'editorial') : null,
        data.dataset,
        data.path,
        change === 'added' ? doc.sections.length : n('added'),
        n('modified'),
        n('removed'),
        data.fileChangeId,
      ],
    });
    await recordChangeEvents(c, data.runId, doc.documentId);
    return {
      outcome: 'parsed',
      documentId: doc.documentId,
      change,
      sectionChanges: change === 'modified' ? changes.length : 0,
    };
  });
}

/**
 * A removed file tombstones its document only when no current file in any dataset still carries the
 * same dokid (Lovtidend archives are renamed every year): status removed, chunks and cross-references
 * deleted, one `removed` section_changes row per section (sections are kept for history and revival).
 */
async function applyRemoval(ctx: ServiceContext, data: ParseJobData): Promise<ParseOutcome> {
  return withTransaction(ctx.database.pool, async (c) => {
    if (!(await lockPendingChange(c, data.fileChangeId))) return { outcome: 'already-done' };
    const mapped = await c.query<{ document_id: string }>(
      'SELECT document_id FROM blob_documents WHERE hash = $1',
      [data.oldHash],
    );
    const documentId = mapped.rows[0]?.document_id;
    if (!documentId) {
      await markSucceeded(c, data.fileChangeId, 'no parsed document for this file');
      return { outcome: 'kept', documentId: null, reason: 'never parsed' };
    }
    const doc = await lockDocument(c, documentId);
    if (!doc || doc.status === 'removed') {
      await markSucceeded(c, data.fileChangeId);
      return { outcome: 'kept', documentId, reason: 'already removed' };
    }
    if (doc.last_run_id > data.runId) {
      await markSucceeded(c, data.fileChangeId, `superseded by run ${doc.last_run_id}`);
      return { outcome: 'superseded', byRun: doc.last_run_id };
    }
    const carried = await c.query(
      `SELECT f.dataset, f.path FROM files f JOIN blob_documents b ON b.hash = f.hash
       WHERE b.document_id = $1 AND f.status <> 'removed' LIMIT 1`,
      [documentId],
    );
    if (carried.rowCount) {
      const by = carried.rows[0] as { dataset: string; path: string };
      await markSucceeded(c, data.fileChangeId, `document still carried by ${by.dataset}/${by.path}`);
      return { outcome: 'kept', documentId, reason: 'still carried' };
    }
    await c.query(
      `INSERT INTO section_changes (run_id, document_id, section_key, change, number, heading_path, old_text, new_text)
       SELECT $1, document_id, section_key, 'removed', number, heading_path, text, NULL FROM sections WHERE document_id = $2
       ON CONFLICT (run_id, document_id, section_key) DO UPDATE SET change = 'removed', old_text = EXCLUDED.old_text, new_text = NULL`,
      [data.runId, documentId],
    );
    const n = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM sections WHERE document_id = $1', [
      documentId,
    ]);
    await c.query(
      `INSERT INTO document_changes (run_id, document_id, change, kind, dataset, path, sections_removed)
       VALUES ($1, $2, 'removed', NULL, $3, $4, $5)
       ON CONFLICT (run_id, document_id) DO UPDATE SET change = 'removed', kind = NULL, sections_added = 0,
         sections_modified = 0, sections_removed = EXCLUDED.sections_removed`,
      [data.runId, documentId, data.dataset, data.path, n.rows[0]!.n],
    );
    await stageChunkChanges(c, data.runId, documentId);
    await c.query('DELETE FROM chunks WHERE document_id = $1', [documentId]);
    await c.query('DELETE FROM cross_references WHERE document_id = $1', [documentId]);
    await c.query(
      `UPDATE documents SET status = 'removed', last_run_id = $2, updated_at = now() WHERE document_id = $1`,
      [documentId, data.runId],
    );
    await markSucceeded(c, data.fileChangeId);
    await recordChangeEvents(c, data.runId, documentId);
    return { outcome: 'removed', documentId };
  });
}

/** Handles one parse job end to end; MalformedDocumentError propagates to the worker (recorded, not retried). */
export async function processParseJob(ctx: ServiceContext, data: ParseJobData): Promise<ParseOutcome> {
  const { pool } = ctx.database;
  const status = await pool.query<{ parse_status: string }>({
    name: 'parser-change-status',
    text: 'SELECT parse_status FROM file_changes WHERE id = $1',
    values: [data.fileChangeId],
  });
  if (status.rows[0]?.parse_status !== 'pending') return { outcome: 'already-done' };
  let result: ParseOutcome;
  if (data.change === 'removed') {
    result = await applyRemoval(ctx, data);
  } else if (!data.path.toLowerCase().endsWith('.xml')) {
    await markSucceeded(pool, data.fileChangeId, 'not an XML document');
    result = { outcome: 'not-a-document' };
  } else {
    let text: string;
    try {
      text = await ctx.blobs.readText(data.newHash!);
    } catch (err) {
      if (err instanceof InvalidUtf8Error) throw new MalformedDocumentError('invalid UTF-8 in the document');
      throw err;
    }
    const doc = await extractDocument(text);
    result = await applyParsed(ctx, data, doc);
  }
  await maybeCompleteRun(pool, data.runId, ctx.config.PARSE_FAILURE_THRESHOLD);
  return result;
}
