import type { ServiceContext } from '@lovsync/shared/context';
import { maybeCompleteRun, withTransaction } from '@lovsync/shared/db';
import type { ParseJobData } from '@lovsync/shared/queues';
import { InvalidUtf8Error } from '@lovsync/shared/blob-store';
import { recordDocumentHistory } from './history-writer.ts';
import { extractDocument, MalformedDocumentError, type ExtractedDocument } from './extract/index.ts';
import { EXTRACTOR_VERSION, withStorageId } from './document-ids.ts';
import {
  chooseWriter,
  choosePrevious,
  classifyChange,
  diffSections,
  fileKey,
  sectionsBeforeRun,
  type FileRef,
  type ChangeRows,
  type SectionChange,
  type StoredSection,
} from './decisions.ts';
import * as store from './document-store.ts';
import type { DocumentState } from './document-store.ts';

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
    await store.markParseFailed(pool, { fileChangeId: data.fileChangeId, error: failure.slice(0, 2000) });
  await maybeCompleteRun(pool, data.runId, ctx.config.PARSE_FAILURE_THRESHOLD);
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
 * Maps the parsed content to the document and gathers what the decisions need. The incumbent is
 * documents.dataset/path, or, when the document was already written in this run, the carrier
 * recorded then; it counts only while that file is current and does not carry another document.
 */
async function mapAndGatherFacts(
  c: store.StoreClient,
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
  const row = await store.mapBlobAndGatherFacts(c, {
    documentId: p.id,
    dokid: p.dokid,
    hash: p.hash,
    runId: p.runId,
    self: p.self,
    carrier,
  });
  return {
    incumbent: carrier && row.incumbent ? carrier : null,
    rivals: row.rivals ?? [],
    runChange: row.run_change,
    siblings: row.siblings,
  };
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
    // Lock and load state.
    await store.lockDokid(c, dokid);
    if (!(await store.lockPendingChange(c, data.fileChangeId))) return { outcome: 'already-done' };
    const prev = await store.readDocument(c, id);
    if (prev && prev.last_run_id > data.runId) {
      await store.markParseSucceeded(c, {
        fileChangeId: data.fileChangeId,
        note: `superseded by run ${prev.last_run_id}`,
        documentId: id,
      });
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

    // Who writes the document.
    const rivals = facts.rivals;
    const who = chooseWriter({ self, incumbent: facts.incumbent, rivals });
    if (!who.write) {
      const keptBy = fileKey(who.winner);
      await store.recordCollisionOn(c, data.runId, who.winner, self);
      await store.markParseCollision(c, { fileChangeId: data.fileChangeId, documentId: id, keptBy });
      return { outcome: 'collision', documentId: id, keptBy };
    }
    // Every other file of this run carrying the document lost to this one.
    for (const r of rivals) await store.recordCollisionOn(c, data.runId, r, self, { documentId: id });

    // What it is compared with, and what changed.
    const runChange = facts.runChange;
    const previous = choosePrevious({
      runId: data.runId,
      prev: prev ? { status: prev.status, lastRunId: prev.last_run_id } : null,
      runChange,
    });
    let old: StoredSection[] = [];
    if (previous.baseline === 'stored') old = await store.readSections(c, id);
    else if (previous.baseline === 'stored-before-run')
      old = sectionsBeforeRun(
        await store.readSections(c, id),
        await store.readRunSectionChanges(c, data.runId, id),
      );
    // Another file of this run wrote (or tombstoned) the document already: its change rows are redone
    // against the version before the run, so the outcome does not depend on job order.
    if (prev && prev.last_run_id === data.runId && runChange !== null)
      await store.deleteRunChangeRows(c, data.runId, id);
    const isNew = previous.baseline === 'none';
    const changes: SectionChange[] = isNew ? [] : diffSections(old, doc.sections);
    const amendment =
      !!prev &&
      !isNew &&
      (prev.last_changed_by !== doc.lastChangedBy || prev.last_change_in_force !== doc.lastChangeInForce);
    const sameSource = !!prev && !isNew && prev.source_hash === data.newHash;
    const rows = classifyChange({
      isNew,
      sameSource,
      reparse: data.change === 'reparse',
      sectionChanges: changes.length,
      metadataMoved: amendment || (!!prev && !isNew && prev.title !== doc.title),
      amendment,
    });

    // Write, in this order: history copies content out of the sections rows before they are replaced;
    // chunk changes are staged before the chunks go; events are recorded once the change rows are final.
    await store.upsertDocument(c, doc, {
      dokid,
      dataset: data.dataset,
      path: data.path,
      sourceHash: data.newHash!,
      runId: data.runId,
      extractorVersion: EXTRACTOR_VERSION,
    });
    await recordDocumentHistory(c, {
      ...data,
      doc,
      previousRunId: prev?.last_run_id ?? null,
      sourceUnchanged: sameSource || data.change === 'reparse',
    });
    await store.stageChunkChanges(c, data.runId, id);
    await store.replaceDocumentContent(c, doc, prev !== undefined);
    if (rows.sectionRows) await store.insertSectionChanges(c, data.runId, id, changes);
    if (facts.siblings > 0 || prev?.twin_id) await store.updateTwinPointers(c, dokid);
    const n = (k: SectionChange['change']) => changes.filter((x) => x.change === k).length;
    await store.recordParseOutcome(c, {
      runId: data.runId,
      fileChangeId: data.fileChangeId,
      documentId: id,
      change: rows.change,
      kind: rows.kind,
      dataset: data.dataset,
      path: data.path,
      sectionsAdded: rows.change === 'added' ? doc.sections.length : n('added'),
      sectionsModified: n('modified'),
      sectionsRemoved: n('removed'),
      collision: who.collisionWith ? fileKey(who.collisionWith) : null,
    });
    await store.recordChangeEvents(c, data.runId, id);
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
    const mapped = await store.findBlobDocument(c, data.oldHash!);
    const documentId = mapped?.document_id;
    const dokid = mapped ? (mapped.dokid ?? mapped.document_id) : null;
    if (dokid) await store.lockDokid(c, dokid);
    if (!(await store.lockPendingChange(c, data.fileChangeId))) return { outcome: 'already-done' };
    const done = (note: string | null) =>
      store.markParseSucceeded(c, { fileChangeId: data.fileChangeId, note, documentId });
    if (!documentId || !dokid) {
      await done('no parsed document for this file');
      return { outcome: 'kept', documentId: null, reason: 'never parsed' };
    }
    const doc = await store.readDocument(c, documentId);
    if (!doc || doc.status === 'removed') {
      await done(null);
      return { outcome: 'kept', documentId, reason: 'already removed' };
    }
    if (doc.last_run_id > data.runId) {
      await done(`superseded by run ${doc.last_run_id}`);
      return { outcome: 'superseded', byRun: doc.last_run_id };
    }
    const by = await store.findCurrentCarrier(c, documentId);
    if (by) {
      await done(`document still carried by ${fileKey(by)}`);
      return { outcome: 'kept', documentId, reason: 'still carried' };
    }
    // Tombstone, in this order: the change row, history closed (content copied from the sections it
    // keeps), chunk changes staged before the chunks go, then events once the change rows are final.
    await store.recordRemovalChange(c, {
      runId: data.runId,
      documentId,
      dataset: data.dataset,
      path: data.path,
    });
    await store.closeDocumentHistory(c, { runId: data.runId, dataset: data.dataset, documentId });
    await store.stageChunkChanges(c, data.runId, documentId);
    await store.tombstoneDocument(c, { documentId, runId: data.runId });
    await store.updateTwinPointers(c, dokid);
    await done(null);
    await store.recordChangeEvents(c, data.runId, documentId);
    return { outcome: 'removed', documentId };
  });
}

/**
 * Handles one parse job end to end: a cheap look at its file_changes row, the removal or the parse
 * (each one transaction), then finishParseJob. MalformedDocumentError propagates to the worker
 * (recorded, not retried).
 */
export async function processParseJob(ctx: ServiceContext, data: ParseJobData): Promise<ParseOutcome> {
  const { pool } = ctx.database;
  if (!(await store.isChangePending(pool, data.fileChangeId))) return { outcome: 'already-done' };
  let result: ParseOutcome;
  if (data.change === 'removed') {
    result = await applyRemoval(ctx, data);
  } else if (!data.path.toLowerCase().endsWith('.xml')) {
    await store.markParseSucceeded(pool, { fileChangeId: data.fileChangeId, note: 'not an XML document' });
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
