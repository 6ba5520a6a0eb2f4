import type pg from 'pg';
import type { ServiceContext } from '@lovsync/shared/context';
import { markParseFailed, maybeCompleteRun, withTransaction } from '@lovsync/shared/db';
import type { ParseJobData } from '@lovsync/shared/queues';
import {
  diffSections,
  insertSectionChanges,
  replaceDocumentContent,
  upsertDocument,
  updateTwinPointers,
  type SectionChange,
  type StoredSection,
} from './document-writer.ts';
import { recordDocumentHistory, recordDocumentRemoval } from './history-writer.ts';
import { InvalidUtf8Error } from '@lovsync/shared/blob-store';
import { extractDocument, MalformedDocumentError, type ExtractedDocument } from './extract/index.ts';
import { EXTRACTOR_VERSION, withStorageId } from './document-ids.ts';
import {
  chooseWriter,
  choosePrevious,
  classifyChange,
  fileKey,
  type FileRef,
  type ChangeRows,
} from './decisions.ts';
import { recordChangeEvents, stageChunkChanges } from './change-events.ts';

export type ParseOutcome =
  | { outcome: 'already-done' }
  | { outcome: 'not-a-document' }
  | { outcome: 'superseded'; byRun: number }
  | {
      outcome: 'parsed';
      documentId: string;
      change: 'added' | 'modified' | null;
      kind: ChangeRows['kind'];
      sectionChanges: number;
    }
  | { outcome: 'collision'; documentId: string; keptBy: string }
  | { outcome: 'removed'; documentId: string }
  | { outcome: 'kept'; documentId: string | null; reason: string };

interface DocumentState {
  status: 'active' | 'removed';
  last_run_id: number;
  last_changed_by: string | null;
  last_change_in_force: string | null;
  title: string;
  dataset: string;
  path: string;
  source_hash: string;
  previous_carrier: string | null;
  twin_id: string | null;
}

/** Serialises every job touching documents of one dokid (twins, renamed archives, collisions). */
async function lockDokid(c: pg.PoolClient, dokid: string): Promise<void> {
  await c.query({
    name: 'parser-lock-dokid',
    text: 'SELECT pg_advisory_xact_lock(hashtextextended($1, 7415))',
    values: [dokid],
  });
}

/**
 * Locks the file_changes row (after the dokid lock: a job holding the dokid lock may write another
 * job's file_changes row, so the dokid lock always comes first).
 */
async function lockPendingChange(c: pg.PoolClient, id: number): Promise<boolean> {
  const r = await c.query<{ parse_status: string }>({
    name: 'parser-lock-change',
    text: 'SELECT parse_status FROM file_changes WHERE id = $1 FOR UPDATE',
    values: [id],
  });
  return r.rows[0]?.parse_status === 'pending';
}

async function markSucceeded(
  c: Pick<pg.PoolClient, 'query'>,
  id: number,
  note: string | null = null,
  documentId: string | null = null,
): Promise<void> {
  await c.query(
    `UPDATE file_changes SET parse_status = 'succeeded', parse_error = $2, parsed_at = now(),
       document_id = COALESCE($3, document_id) WHERE id = $1 AND parse_status = 'pending'`,
    [id, note, documentId],
  );
}

/**
 * The one place a parse job finishes: a final failure is recorded on its file_changes row (kept
 * when the row was already final), then the run completes if this was its last job. Success is
 * recorded inside the job's own transaction; this runs after that commit.
 */
export async function finishParseJob(
  ctx: ServiceContext,
  data: Pick<ParseJobData, 'runId' | 'fileChangeId'>,
  failure?: string,
): Promise<void> {
  const { pool } = ctx.database;
  if (failure !== undefined)
    await markParseFailed(pool, { fileChangeId: data.fileChangeId, error: failure.slice(0, 2000) });
  await maybeCompleteRun(pool, data.runId, ctx.config.PARSE_FAILURE_THRESHOLD);
}

async function readDocument(c: pg.PoolClient, documentId: string): Promise<DocumentState | undefined> {
  const r = await c.query<DocumentState>({
    name: 'parser-lock-document',
    text: `SELECT status, last_run_id, last_changed_by, last_change_in_force::text AS last_change_in_force, title,
       dataset, path, source_hash, previous_carrier, twin_id
     FROM documents WHERE document_id = $1 FOR UPDATE`,
    values: [documentId],
  });
  return r.rows[0];
}

function splitFileKey(key: string | null): FileRef | null {
  if (!key) return null;
  const i = key.indexOf('/');
  return i < 0 ? null : { dataset: key.slice(0, i), path: key.slice(i + 1) };
}

interface WriteFacts {
  /** The file that carried the document before this run, when it is current and still carries it. */
  incumbent: FileRef | null;
  /** Other current files of this run whose content is known to carry the document. */
  rivals: FileRef[];
  /** This run's document_changes row for the document. */
  runChange: 'added' | 'modified' | 'removed' | null;
  /** Other documents with the same dokid (language twins). */
  siblings: number;
}

/**
 * Maps the parsed content to the document (whoever wins: removals and later collisions see it) and
 * gathers, in the same round trip, what the decisions need. The incumbent is documents.dataset/path,
 * or, when the document was already written in this run, the carrier recorded then; it counts only
 * while that file is current and does not carry another document.
 */
async function mapAndGatherFacts(
  c: pg.PoolClient,
  p: {
    id: string;
    dokid: string;
    hash: string;
    runId: number;
    self: FileRef;
    prev: DocumentState | undefined;
  },
): Promise<WriteFacts> {
  const carrier = !p.prev
    ? null
    : p.prev.last_run_id < p.runId
      ? { dataset: p.prev.dataset, path: p.prev.path }
      : splitFileKey(p.prev.previous_carrier);
  const r = await c.query<{
    incumbent: boolean;
    rivals: FileRef[] | null;
    run_change: WriteFacts['runChange'];
    siblings: number;
  }>({
    name: 'parser-write-facts',
    text: `WITH map AS (
       INSERT INTO blob_documents (hash, document_id) VALUES ($1, $2)
       ON CONFLICT (hash) DO UPDATE SET document_id = EXCLUDED.document_id
     )
     SELECT
       EXISTS (SELECT 1 FROM files f LEFT JOIN blob_documents b ON b.hash = f.hash
               WHERE f.dataset = $4 AND f.path = $5 AND f.status <> 'removed'
                 AND (b.document_id IS NULL OR b.document_id = $2)) AS incumbent,
       (SELECT json_agg(json_build_object('dataset', f.dataset, 'path', f.path))
        FROM blob_documents b JOIN files f ON f.hash = b.hash AND f.status <> 'removed'
        WHERE b.document_id = $2 AND NOT (f.dataset = $6 AND f.path = $7)
          AND EXISTS (SELECT 1 FROM file_changes fc WHERE fc.run_id = $3 AND fc.dataset = f.dataset
                        AND fc.path = f.path AND fc.change <> 'removed')) AS rivals,
       (SELECT change FROM document_changes WHERE run_id = $3 AND document_id = $2) AS run_change,
       (SELECT count(*)::int FROM documents WHERE dokid = $8 AND document_id <> $2) AS siblings`,
    values: [
      p.hash,
      p.id,
      p.runId,
      carrier?.dataset ?? null,
      carrier?.path ?? null,
      p.self.dataset,
      p.self.path,
      p.dokid,
    ],
  });
  const row = r.rows[0]!;
  return {
    incumbent: carrier && row.incumbent ? carrier : null,
    rivals: row.rivals ?? [],
    runChange: row.run_change,
    siblings: row.siblings,
  };
}

/**
 * Records a collision on the other file's row of this run, if it has one; `lostTo` marks that row's
 * file as the loser (a file that wrote the document earlier in this run and was displaced).
 */
async function recordCollisionOn(
  c: pg.PoolClient,
  runId: number,
  on: FileRef,
  other: FileRef,
  lostTo?: { documentId: string },
): Promise<void> {
  await c.query(
    `UPDATE file_changes SET collision = $4,
       parse_error = CASE WHEN $5::text IS NULL THEN parse_error ELSE 'dokid collision: ' || $5 || ' is kept by ' || $4 END
     WHERE run_id = $1 AND dataset = $2 AND path = $3 AND change <> 'removed'`,
    [runId, on.dataset, on.path, fileKey(other), lostTo?.documentId ?? null],
  );
}

/** The stored sections with this run's section changes undone: the version before this run. */
async function sectionsBeforeRun(
  c: pg.PoolClient,
  documentId: string,
  runId: number,
): Promise<StoredSection[]> {
  const stored = await c.query<StoredSection>(
    'SELECT section_key, text_hash, text, number, heading_path FROM sections WHERE document_id = $1',
    [documentId],
  );
  const byKey = new Map(stored.rows.map((s) => [s.section_key, s as StoredSection]));
  const changes = await c.query<{
    section_key: string;
    change: string;
    number: string | null;
    heading_path: string | null;
    old_text: string | null;
  }>(
    'SELECT section_key, change, number, heading_path, old_text FROM section_changes WHERE run_id = $1 AND document_id = $2',
    [runId, documentId],
  );
  for (const ch of changes.rows) {
    if (ch.change === 'added') byKey.delete(ch.section_key);
    else
      byKey.set(ch.section_key, {
        section_key: ch.section_key,
        text_hash: null,
        text: ch.old_text ?? '',
        number: ch.number,
        heading_path: ch.heading_path ?? '',
      });
  }
  return [...byKey.values()];
}

/**
 * Applies one added/modified/reparsed file in one transaction: who writes the document (twins have
 * their own ids; a dokid collision is decided by chooseWriter), the previous version to compare with
 * (choosePrevious), the document upsert, sections/chunks/cross-references replaced, the change rows
 * (classifyChange) and file_changes marked. A job whose effect is committed does nothing; an older
 * run never overwrites a newer one.
 */
async function applyParsed(
  ctx: ServiceContext,
  data: ParseJobData,
  extracted: ExtractedDocument,
): Promise<ParseOutcome> {
  const dokid = extracted.documentId;
  const doc = withStorageId(extracted, data.path);
  const id = doc.documentId;
  const self: FileRef = { dataset: data.dataset, path: data.path };
  return withTransaction(ctx.database.pool, async (c) => {
    await lockDokid(c, dokid);
    if (!(await lockPendingChange(c, data.fileChangeId))) return { outcome: 'already-done' };
    const prev = await readDocument(c, id);
    if (prev && prev.last_run_id > data.runId) {
      await markSucceeded(c, data.fileChangeId, `superseded by run ${prev.last_run_id}`, id);
      return { outcome: 'superseded', byRun: prev.last_run_id };
    }
    const facts = await mapAndGatherFacts(c, {
      id,
      dokid,
      hash: data.newHash!,
      runId: data.runId,
      self,
      prev,
    });
    const rivals = facts.rivals;
    const who = chooseWriter({ self, incumbent: facts.incumbent, rivals });
    if (!who.write) {
      const keptBy = fileKey(who.winner);
      await recordCollisionOn(c, data.runId, who.winner, self);
      await c.query(
        `UPDATE file_changes SET parse_status = 'succeeded', parsed_at = now(), document_id = $2, collision = $3,
           parse_error = $4 WHERE id = $1 AND parse_status = 'pending'`,
        [data.fileChangeId, id, keptBy, `dokid collision: ${id} is kept by ${keptBy}`],
      );
      return { outcome: 'collision', documentId: id, keptBy };
    }
    // Every other file of this run carrying the document lost to this one.
    for (const r of rivals) await recordCollisionOn(c, data.runId, r, self, { documentId: id });

    const runChange = facts.runChange;
    const previous = choosePrevious({
      runId: data.runId,
      prev: prev ? { status: prev.status, lastRunId: prev.last_run_id } : null,
      runChange,
    });
    let old: StoredSection[] = [];
    if (previous.baseline === 'stored')
      old = (
        await c.query<StoredSection>(
          'SELECT section_key, text_hash, text, number, heading_path FROM sections WHERE document_id = $1',
          [id],
        )
      ).rows;
    else if (previous.baseline === 'stored-before-run') old = await sectionsBeforeRun(c, id, data.runId);
    // Another file of this run wrote (or tombstoned) the document already: its change rows are redone
    // against the version before the run, so the outcome does not depend on job order.
    if (prev && prev.last_run_id === data.runId && runChange !== null)
      await c.query(
        `WITH s AS (DELETE FROM section_changes WHERE run_id = $1 AND document_id = $2)
         DELETE FROM document_changes WHERE run_id = $1 AND document_id = $2`,
        [data.runId, id],
      );
    const isNew = previous.baseline === 'none';
    const changes: SectionChange[] = isNew ? [] : diffSections(old, doc.sections);
    const amendment =
      !!prev &&
      !isNew &&
      (prev.last_changed_by !== doc.lastChangedBy || prev.last_change_in_force !== doc.lastChangeInForce);
    const rows = classifyChange({
      isNew,
      sameSource: !!prev && !isNew && prev.source_hash === data.newHash,
      reparse: data.change === 'reparse',
      sectionChanges: changes.length,
      metadataMoved: amendment || (!!prev && !isNew && prev.title !== doc.title),
      amendment,
    });
    await upsertDocument(c, doc, {
      dokid,
      dataset: data.dataset,
      path: data.path,
      sourceHash: data.newHash!,
      runId: data.runId,
      extractorVersion: EXTRACTOR_VERSION,
    });
    await recordDocumentHistory(c, { ...data, doc, previousRunId: prev?.last_run_id ?? null });
    await stageChunkChanges(c, data.runId, id);
    await replaceDocumentContent(c, doc, prev !== undefined);
    if (rows.sectionRows) await insertSectionChanges(c, data.runId, id, changes);
    if (facts.siblings > 0 || prev?.twin_id) await updateTwinPointers(c, dokid);
    const n = (k: SectionChange['change']) => changes.filter((x) => x.change === k).length;
    await c.query({
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
        data.runId,
        id,
        rows.change,
        rows.kind,
        data.dataset,
        data.path,
        rows.change === 'added' ? doc.sections.length : n('added'),
        n('modified'),
        n('removed'),
        data.fileChangeId,
        who.collisionWith ? fileKey(who.collisionWith) : null,
      ],
    });
    await recordChangeEvents(c, data.runId, id);
    return {
      outcome: 'parsed',
      documentId: id,
      change: rows.change,
      kind: rows.kind,
      sectionChanges: rows.sectionRows ? changes.length : 0,
    };
  });
}

/**
 * A removed file tombstones its document only when no current file in any dataset still carries the
 * same document id (Lovtidend archives are renamed every year; each language twin has its own id):
 * status removed, chunks and cross-references deleted, one document_changes row `removed` with the
 * section count, no section_changes (the change-row rule in decisions.ts); sections are kept for
 * history and revival.
 */
async function applyRemoval(ctx: ServiceContext, data: ParseJobData): Promise<ParseOutcome> {
  return withTransaction(ctx.database.pool, async (c) => {
    const mapped = await c.query<{ document_id: string; dokid: string | null }>(
      `SELECT b.document_id, d.dokid FROM blob_documents b LEFT JOIN documents d ON d.document_id = b.document_id
       WHERE b.hash = $1`,
      [data.oldHash],
    );
    const documentId = mapped.rows[0]?.document_id;
    if (documentId) await lockDokid(c, mapped.rows[0]!.dokid ?? documentId);
    if (!(await lockPendingChange(c, data.fileChangeId))) return { outcome: 'already-done' };
    if (!documentId) {
      await markSucceeded(c, data.fileChangeId, 'no parsed document for this file');
      return { outcome: 'kept', documentId: null, reason: 'never parsed' };
    }
    const doc = await readDocument(c, documentId);
    if (!doc || doc.status === 'removed') {
      await markSucceeded(c, data.fileChangeId, null, documentId);
      return { outcome: 'kept', documentId, reason: 'already removed' };
    }
    if (doc.last_run_id > data.runId) {
      await markSucceeded(c, data.fileChangeId, `superseded by run ${doc.last_run_id}`, documentId);
      return { outcome: 'superseded', byRun: doc.last_run_id };
    }
    const carried = await c.query<FileRef>(
      `SELECT f.dataset, f.path FROM files f JOIN blob_documents b ON b.hash = f.hash
       WHERE b.document_id = $1 AND f.status <> 'removed' ORDER BY f.dataset, f.path LIMIT 1`,
      [documentId],
    );
    if (carried.rowCount) {
      const by = carried.rows[0]!;
      await markSucceeded(c, data.fileChangeId, `document still carried by ${fileKey(by)}`, documentId);
      return { outcome: 'kept', documentId, reason: 'still carried' };
    }
    await c.query(
      `INSERT INTO document_changes (run_id, document_id, change, kind, dataset, path, sections_removed)
       VALUES ($1, $2, 'removed', NULL, $3, $4, (SELECT count(*) FROM sections WHERE document_id = $2))
       ON CONFLICT (run_id, document_id) DO UPDATE SET change = 'removed', kind = NULL, sections_added = 0,
         sections_modified = 0, sections_removed = EXCLUDED.sections_removed`,
      [data.runId, documentId, data.dataset, data.path],
    );
    await recordDocumentRemoval(c, { ...data, documentId });
    await stageChunkChanges(c, data.runId, documentId);
    await c.query(
      `WITH ch AS (DELETE FROM chunks WHERE document_id = $1), xr AS (DELETE FROM cross_references WHERE document_id = $1)
       UPDATE documents SET status = 'removed', last_run_id = $2, updated_at = now(),
         previous_carrier = CASE WHEN last_run_id < $2 THEN dataset || '/' || path ELSE previous_carrier END
       WHERE document_id = $1`,
      [documentId, data.runId],
    );
    await updateTwinPointers(c, mapped.rows[0]!.dokid ?? documentId);
    await markSucceeded(c, data.fileChangeId, null, documentId);
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
  await finishParseJob(ctx, data);
  return result;
}
