/**
 * The parse write path's store: every SQL statement a parse job runs is a named, typed function in
 * this file (issue 11 point 4), so one place answers "what does a parse job do to the database":
 *
 * - locks and reads: the dokid lock, the file_changes row lock, the stored document, the write facts;
 * - documents, sections, chunks, cross-references, section_changes, document_changes, twin pointers;
 * - history (section_versions, document_versions): the statements here, the version logic in
 *   history-writer.ts (which calls them);
 * - change events (chunk_changes, outbox): the two calls into migration 0012's SQL functions;
 * - status changes (file_changes.parse_status, documents.status) are the run lifecycle's, so their
 *   statements live in packages/shared/src/db/queries (file-changes.ts, documents.ts) with the state
 *   diagram (runs.ts); they are re-exported here, and the parse path calls them from here
 *   (test/structure/status-writes.test.ts fails on a status written anywhere else).
 *
 * parse-job.ts is the orchestration: lock, load state, decide (decisions.ts, pure), call these,
 * finish. Raw SQL hot paths (measured; keep them as they are): replaceDocumentContent with the
 * U+001F-packed section texts and the chunk byte ranges (packTexts, chunkSpans).
 */
import type pg from 'pg';
import type { ExtractedDocument } from './extract/index.ts';
import {
  fileKey,
  type FileRef,
  type RunSectionChange,
  type SectionChange,
  type StoredSection,
} from './decisions.ts';

export {
  markParseCollision,
  markParseFailed,
  markParseSucceeded,
  recordParseOutcome,
  tombstoneDocument,
  upsertDocument,
} from '@lovsync/shared/db';

/** A connection or pool client; the parse job passes its transaction's client. */
export type StoreClient = Pick<pg.PoolClient, 'query'>;
type Client = StoreClient;

// --- locks and reads -------------------------------------------------------------------------

/** Serialises every job touching documents of one dokid (twins, renamed archives, collisions). */
export async function lockDokid(c: Client, dokid: string): Promise<void> {
  await c.query({
    name: 'parser-lock-dokid',
    text: 'SELECT pg_advisory_xact_lock(hashtextextended($1, 7415))',
    values: [dokid],
  });
}

/**
 * Locks the file_changes row and tells whether it is still pending (after the dokid lock: a job
 * holding the dokid lock may write another job's file_changes row, so the dokid lock always comes first).
 */
export async function lockPendingChange(c: Client, fileChangeId: number): Promise<boolean> {
  const r = await c.query<{ parse_status: string }>({
    name: 'parser-lock-change',
    text: 'SELECT parse_status FROM file_changes WHERE id = $1 FOR UPDATE',
    values: [fileChangeId],
  });
  return r.rows[0]?.parse_status === 'pending';
}

/** Whether the file_changes row is still pending, without a lock (the job's cheap first look). */
export async function isChangePending(db: Client, fileChangeId: number): Promise<boolean> {
  const r = await db.query<{ parse_status: string }>({
    name: 'parser-change-status',
    text: 'SELECT parse_status FROM file_changes WHERE id = $1',
    values: [fileChangeId],
  });
  return r.rows[0]?.parse_status === 'pending';
}

/** The stored document as the decisions need it. */
export interface DocumentState {
  status: 'active' | 'removed';
  last_run_id: number;
  last_changed_by: string | null;
  last_change_in_force: string | null;
  title: string;
  dataset: string;
  path: string;
  source_hash: string;
  /** `dataset/path` of the file that carried it before its last run (see decisions.ts). */
  previous_carrier: string | null;
  twin_id: string | null;
}

/** Reads and locks the stored document (FOR UPDATE). */
export async function readDocument(c: Client, documentId: string): Promise<DocumentState | undefined> {
  const r = await c.query<DocumentState>({
    name: 'parser-lock-document',
    text: `SELECT status, last_run_id, last_changed_by, last_change_in_force::text AS last_change_in_force, title,
       dataset, path, source_hash, previous_carrier, twin_id
     FROM documents WHERE document_id = $1 FOR UPDATE`,
    values: [documentId],
  });
  return r.rows[0];
}

/** What mapBlobAndGatherFacts reads. */
export interface WriteFactsRow {
  /** The carrier file is current and carries no other document. */
  incumbent: boolean;
  /** Other current files of this run whose content is known to carry the document (null: none). */
  rivals: FileRef[] | null;
  /** This run's document_changes row for the document. */
  run_change: 'added' | 'modified' | 'removed' | null;
  /** Other documents with the same dokid (language twins). */
  siblings: number;
}

/**
 * Maps the parsed content `hash` to the document (whoever wins: removals and later collisions see
 * it) and reads, in the same round trip, what the decisions need about `carrier` (the file that
 * carried the document before, or null) and the other files of the run.
 */
export async function mapBlobAndGatherFacts(
  c: Client,
  p: {
    documentId: string;
    dokid: string;
    hash: string;
    runId: number;
    self: FileRef;
    carrier: FileRef | null;
  },
): Promise<WriteFactsRow> {
  const r = await c.query<WriteFactsRow>({
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
      p.documentId,
      p.runId,
      p.carrier?.dataset ?? null,
      p.carrier?.path ?? null,
      p.self.dataset,
      p.self.path,
      p.dokid,
    ],
  });
  return r.rows[0]!;
}

/** The document's stored sections. */
export async function readSections(c: Client, documentId: string): Promise<StoredSection[]> {
  const r = await c.query<StoredSection>(
    'SELECT section_key, text_hash, text, number, heading_path FROM sections WHERE document_id = $1',
    [documentId],
  );
  return r.rows;
}

/** The document's section_changes rows of this run. */
export async function readRunSectionChanges(
  c: Client,
  runId: number,
  documentId: string,
): Promise<RunSectionChange[]> {
  const r = await c.query<RunSectionChange>(
    'SELECT section_key, change, number, heading_path, old_text FROM section_changes WHERE run_id = $1 AND document_id = $2',
    [runId, documentId],
  );
  return r.rows;
}

/** The document the content `hash` was mapped to (with its dokid, null when the document row is gone). */
export async function findBlobDocument(
  c: Client,
  hash: string,
): Promise<{ document_id: string; dokid: string | null } | undefined> {
  const r = await c.query<{ document_id: string; dokid: string | null }>(
    `SELECT b.document_id, d.dokid FROM blob_documents b LEFT JOIN documents d ON d.document_id = b.document_id
       WHERE b.hash = $1`,
    [hash],
  );
  return r.rows[0];
}

/** A current file (first by dataset, path) whose content carries the document, if any. */
export async function findCurrentCarrier(c: Client, documentId: string): Promise<FileRef | undefined> {
  const r = await c.query<FileRef>(
    `SELECT f.dataset, f.path FROM files f JOIN blob_documents b ON b.hash = f.hash
       WHERE b.document_id = $1 AND f.status <> 'removed' ORDER BY f.dataset, f.path LIMIT 1`,
    [documentId],
  );
  return r.rows[0];
}

// --- change rows, collisions, twins ----------------------------------------------------------

/**
 * Records a collision on the other file's row of this run, if it has one; `lostTo` marks that row's
 * file as the loser (a file that wrote the document earlier in this run and was displaced).
 */
export async function recordCollisionOn(
  c: Client,
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

/** Deletes the document's document_changes and section_changes rows of this run (to be redone). */
export async function deleteRunChangeRows(c: Client, runId: number, documentId: string): Promise<void> {
  await c.query(
    `WITH s AS (DELETE FROM section_changes WHERE run_id = $1 AND document_id = $2)
         DELETE FROM document_changes WHERE run_id = $1 AND document_id = $2`,
    [runId, documentId],
  );
}

export async function insertSectionChanges(
  c: Client,
  runId: number,
  documentId: string,
  changes: SectionChange[],
): Promise<void> {
  if (!changes.length) return;
  await c.query(
    `INSERT INTO section_changes (run_id, document_id, section_key, change, number, heading_path, old_text, new_text)
     SELECT $1, $2, * FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
     ON CONFLICT (run_id, document_id, section_key) DO UPDATE SET change = EXCLUDED.change, number = EXCLUDED.number,
       heading_path = EXCLUDED.heading_path, old_text = EXCLUDED.old_text, new_text = EXCLUDED.new_text`,
    [
      runId,
      documentId,
      changes.map((x) => x.key),
      changes.map((x) => x.change),
      changes.map((x) => x.number),
      changes.map((x) => x.headingPath),
      changes.map((x) => x.oldText),
      changes.map((x) => x.newText),
    ],
  );
}

/**
 * The run's document_changes row `removed` for a tombstoned document, with its section count (no
 * section_changes: the change-row rule in decisions.ts).
 */
export async function recordRemovalChange(
  c: Client,
  p: { runId: number; documentId: string; dataset: string; path: string },
): Promise<void> {
  await c.query(
    `INSERT INTO document_changes (run_id, document_id, change, kind, dataset, path, sections_removed)
       VALUES ($1, $2, 'removed', NULL, $3, $4, (SELECT count(*) FROM sections WHERE document_id = $2))
       ON CONFLICT (run_id, document_id) DO UPDATE SET change = 'removed', kind = NULL, sections_added = 0,
         sections_modified = 0, sections_removed = EXCLUDED.sections_removed`,
    [p.runId, p.documentId, p.dataset, p.path],
  );
}

/**
 * Language twins point at each other: every current document of the dokid gets twin_id = the other
 * current document carrying it (null when there is none, and on a tombstoned document). Computed from the set of documents, so it ends the
 * same whichever twin is written first; callers hold the dokid lock.
 */
export async function updateTwinPointers(c: Client, dokid: string): Promise<void> {
  await c.query({
    name: 'parser-twin-pointers',
    text: `UPDATE documents d SET twin_id = t.twin
     FROM (SELECT d2.document_id,
             CASE WHEN d2.status = 'active' THEN (SELECT min(o.document_id) FROM documents o
              WHERE o.dokid = d2.dokid AND o.document_id <> d2.document_id AND o.status = 'active') END AS twin
           FROM documents d2 WHERE d2.dokid = $1) t
     WHERE d.document_id = t.document_id AND d.twin_id IS DISTINCT FROM t.twin`,
    values: [dokid],
  });
}

// --- content (raw SQL hot path) --------------------------------------------------------------

/**
 * Raw SQL hot path (measured with pnpm bench:parse; README, Benchmarks: Writes). Replaces the
 * document's sections, chunks and cross-references: one DELETE statement when it had content, then
 * ONE statement inserting all three (data-modifying CTEs), so a file costs two round trips here
 * whatever its size.
 */
export async function replaceDocumentContent(
  c: Client,
  doc: ExtractedDocument,
  existing: boolean,
): Promise<void> {
  const id = doc.documentId;
  if (existing) {
    await c.query(
      `WITH s AS (DELETE FROM sections WHERE document_id = $1), ch AS (DELETE FROM chunks WHERE document_id = $1)
       DELETE FROM cross_references WHERE document_id = $1`,
      [id],
    );
  }
  const s = doc.sections;
  const ch = doc.chunks;
  const xr = doc.crossReferences;
  if (!s.length && !ch.length && !xr.length) return;
  // The section texts, the bulk of the bytes, go as one string with U+001F before each text (a
  // character XML 1.0 does not allow, so the tokenizer never lets it through) instead of an array
  // literal that pg would have to escape and Postgres to unescape. A chunk is a section's whole
  // text or a piece of it (the chunker never copies characters), so its text is not sent a second
  // time: only its UTF-8 byte range in that string, cut out of one encoded copy of it (an
  // uncorrelated scalar subquery: an InitPlan, evaluated once per statement, never per row). No
  // join in the statement, so its cached (generic) plan is as good for 40,000 sections as for 4.
  const texts = packTexts(s.map((x) => x.text));
  const spans = chunkSpans(s, ch, texts.packed);
  await c.query({
    name: 'parser-replace-content',
    text: `WITH s AS (
       INSERT INTO sections (document_id, section_key, parent_key, kind, number, title, heading_path, text, notes, repealed, text_hash, ord, data_name)
       SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
         CASE WHEN $26::boolean THEN (string_to_array($8::text, E'\\x1f'))[2:] ELSE $8::text[] END,
         $9::text[], $10::boolean[], $11::text[], $12::int[], $27::text[])
     ), ch AS (
       INSERT INTO chunks (chunk_id, document_id, section_key, ord, heading_path, text, token_count)
       SELECT x.c, $1, x.k, x.o, x.h,
         COALESCE(x.t, convert_from(substring((SELECT convert_to($8::text, 'UTF8')) FROM x.f FOR x.l), 'UTF8')), x.n
       FROM unnest($13::text[], $14::text[], $15::int[], $16::text[], $17::text[], $18::int[], $24::int[], $25::int[])
         AS x(c, k, o, h, t, n, f, l)
     )
     INSERT INTO cross_references (document_id, section_key, kind, target_refid, target_part, raw)
     SELECT $1, * FROM unnest($19::text[], $20::text[], $21::text[], $22::text[], $23::text[])`,
    values: [
      id,
      s.map((x) => x.key),
      s.map((x) => x.parentKey),
      s.map((x) => x.kind),
      s.map((x) => x.number),
      s.map((x) => x.title),
      s.map((x) => x.headingPath),
      texts.value,
      s.map((x) => x.notes),
      s.map((x) => x.repealed),
      s.map((x) => x.textHash),
      s.map((x) => x.ord),
      ch.map((x) => x.chunkId),
      ch.map((x) => x.sectionKey),
      ch.map((x) => x.ord),
      ch.map((x) => x.headingPath),
      spans.text,
      ch.map((x) => x.tokenCount),
      xr.map((x) => x.sectionKey),
      xr.map((x) => x.kind),
      xr.map((x) => x.targetRefid),
      xr.map((x) => x.targetPart),
      xr.map((x) => x.raw),
      spans.from,
      spans.length,
      texts.packed,
      s.map((x) => x.dataName),
    ],
  });
}

const SEPARATOR = '\u001f';

/**
 * Raw SQL hot path (replaceDocumentContent's input). `texts` as one string, each text preceded by
 * U+001F (Postgres: string_to_array(v, E'\\x1f'), minus the first, empty element), or as the array
 * itself when a text contains U+001F after all.
 */
export function packTexts(texts: string[]): { packed: boolean; value: string | string[] } {
  for (const t of texts) if (t.includes(SEPARATOR)) return { packed: false, value: texts };
  return { packed: true, value: texts.length ? SEPARATOR + texts.join(SEPARATOR) : '' };
}

/**
 * Raw SQL hot path (replaceDocumentContent's input). Per chunk: null text plus its 1-based start
 * and length in bytes in the UTF-8 of the packed section texts (see packTexts), or the text itself
 * when it is not a piece of its section's text (text outside § grouped per parent) or the texts
 * could not be packed.
 */
export function chunkSpans(
  sections: ExtractedDocument['sections'],
  chunks: ExtractedDocument['chunks'],
  packed: boolean,
): { text: (string | null)[]; from: (number | null)[]; length: (number | null)[] } {
  /** Per section key: its text and the byte offset (0-based) where it starts in the packed string. */
  const sectionAt = new Map<string, { text: string; start: number }>();
  let offset = 0;
  for (const s of sections) {
    offset += 1; // the U+001F before each text
    sectionAt.set(s.key, { text: s.text, start: offset });
    offset += Buffer.byteLength(s.text);
  }
  /** Per section: how far (UTF-16 index, and the UTF-8 bytes before it) the previous chunk got. */
  const cursor = new Map<string, { at: number; byte: number }>();
  const text: (string | null)[] = [];
  const from: (number | null)[] = [];
  const length: (number | null)[] = [];
  for (const c of chunks) {
    const section = packed ? sectionAt.get(c.sectionKey) : undefined;
    const pos = cursor.get(c.sectionKey) ?? { at: 0, byte: 0 };
    const at = section === undefined ? -1 : section.text.indexOf(c.text, pos.at);
    const end = at + c.text.length;
    if (at < 0 || splitsPair(section!.text, at) || splitsPair(section!.text, end)) {
      text.push(c.text);
      from.push(null);
      length.push(null);
      continue;
    }
    const byte = pos.byte + Buffer.byteLength(section!.text.slice(pos.at, at));
    const bytes = Buffer.byteLength(c.text);
    cursor.set(c.sectionKey, { at: end, byte: byte + bytes });
    text.push(null);
    from.push(section!.start + byte + 1);
    length.push(bytes);
  }
  return { text, from, length };
}

/** True when index i of s falls between the two halves of a surrogate pair. */
function splitsPair(s: string, i: number): boolean {
  const code = s.charCodeAt(i);
  return i > 0 && i < s.length && code >= 0xdc00 && code <= 0xdfff;
}

// --- change events (issue 14) ----------------------------------------------------------------

/**
 * Change events of a document write, in the write's own transaction. Call `stageChunkChanges`
 * before the document's chunks are replaced or deleted and `recordChangeEvents` after its
 * document_changes / section_changes rows are final; both are idempotent and safe when the same
 * document is written more than once in a run (the net change against the state before the run is
 * what remains). The SQL lives in migration 0012 (lovsync_stage_chunks, lovsync_record_changes).
 */
export async function stageChunkChanges(c: Client, runId: number, documentId: string): Promise<void> {
  await c.query({
    name: 'events-stage-chunks',
    text: 'SELECT lovsync_stage_chunks($1, $2)',
    values: [runId, documentId],
  });
}

/** chunk_changes of the document for the run, and its outbox events rebuilt from the change rows. */
export async function recordChangeEvents(c: Client, runId: number, documentId: string): Promise<void> {
  await c.query({
    name: 'events-record',
    text: 'SELECT lovsync_record_changes($1, $2)',
    values: [runId, documentId],
  });
}

// --- history (issue 13; the version logic is history-writer.ts) ------------------------------

/** The version-level document fields (document_versions). */
export interface DocumentVersionFields {
  refid: string;
  title: string;
  short_title: string | null;
  language: string | null;
  date_in_force_raw: string | null;
  last_change_in_force: string | null;
  last_changed_by: string | null;
  last_updated: string | null;
}

/** The document's current versions and the time the run observed it. */
export interface HistoryState {
  observed: string;
  known: boolean;
  doc: DocumentVersionFields | null;
  sections: [key: string, hash: string, amendedBy: string | null][];
}

/** A new section version. */
export interface SectionVersionRow {
  key: string;
  hash: string;
  number: string | null;
  title: string | null;
  inForce: string | null;
  act: string | null;
  source: 'note' | 'document' | null;
  note: string | null;
}

/** Undoes what earlier jobs of this run did to the document's history (no-op unless it was written in this run). */
export async function rebaseHistoryOnPreviousRun(
  c: Client,
  documentId: string,
  runId: number,
): Promise<void> {
  await c.query({
    name: 'history-rebase',
    text: `WITH sd AS (DELETE FROM section_versions WHERE document_id = $1 AND valid_from_run = $2),
       sr AS (UPDATE section_versions SET valid_to_run = NULL, observed_to = NULL WHERE document_id = $1 AND valid_to_run = $2),
       dd AS (DELETE FROM document_versions WHERE document_id = $1 AND valid_from_run = $2)
     UPDATE document_versions SET valid_to_run = NULL, observed_to = NULL WHERE document_id = $1 AND valid_to_run = $2`,
    values: [documentId, runId],
  });
}

/** The published lastModified of the run's archive (the run's start when it has none), and the current versions. */
export async function readHistoryState(
  c: Client,
  documentId: string,
  runId: number,
  dataset: string,
): Promise<HistoryState> {
  const r = await c.query<HistoryState>({
    name: 'history-current',
    text: `SELECT COALESCE((SELECT last_modified FROM run_datasets WHERE run_id = $2 AND dataset = $3),
         (SELECT started_at FROM sync_runs WHERE id = $2), now())::text AS observed,
       EXISTS (SELECT 1 FROM document_versions WHERE document_id = $1) AS known,
       (SELECT row_to_json(d) FROM (SELECT refid, title, short_title, language, date_in_force_raw,
          last_change_in_force::text AS last_change_in_force, last_changed_by, last_updated
        FROM document_versions WHERE document_id = $1 AND valid_to_run IS NULL) d) AS doc,
       (SELECT COALESCE(json_agg(json_build_array(section_key, text_hash, amended_by)), '[]'::json)
        FROM section_versions WHERE document_id = $1 AND valid_to_run IS NULL) AS sections`,
    values: [documentId, runId, dataset],
  });
  return r.rows[0]!;
}

/** Closes the document's current versions of `keys` (all when null) at the run, copying their content in. */
const CLOSE_SECTIONS = `UPDATE section_versions v SET valid_to_run = $2, observed_to = $3,
       (kind, parent_key, heading_path, notes, ord, text) = (
         SELECT COALESCE(v.kind, s.kind), COALESCE(v.parent_key, s.parent_key), COALESCE(v.heading_path, s.heading_path),
           COALESCE(v.notes, s.notes), COALESCE(v.ord, s.ord), COALESCE(v.text, s.text)
         FROM (SELECT 1) one LEFT JOIN sections s ON s.document_id = v.document_id AND s.section_key = v.section_key)
     WHERE v.document_id = $1 AND v.valid_to_run IS NULL AND ($4::text[] IS NULL OR v.section_key = ANY($4::text[]))`;

/**
 * One statement: the current versions of `close` closed at the run (content copied from the
 * sections rows, so before they are replaced), `added` inserted, and, when `docMoved`, the current
 * document version closed and `doc` inserted.
 */
export async function writeHistory(
  c: Client,
  p: {
    documentId: string;
    runId: number;
    observed: string;
    origin: 'first_seen' | 'changed' | 'reparse';
    close: string[];
    added: SectionVersionRow[];
    docMoved: boolean;
    doc: DocumentVersionFields;
  },
): Promise<void> {
  const { added, doc } = p;
  await c.query({
    name: 'history-write',
    text: `WITH closed AS (${CLOSE_SECTIONS}),
       ins AS (
         INSERT INTO section_versions (document_id, section_key, valid_from_run, observed_from, origin, text_hash, number, title,
           in_force, amended_by, in_force_source, change_note)
         SELECT $1, x.k, $2, $3, $5, x.h, x.n, x.t, x.f, x.a, x.s, x.o
         FROM unnest($6::text[], $7::text[], $8::text[], $9::text[], $10::date[], $11::text[], $12::text[], $13::text[])
           AS x(k, h, n, t, f, a, s, o)
       ), dclose AS (
         UPDATE document_versions SET valid_to_run = $2, observed_to = $3
         WHERE document_id = $1 AND valid_to_run IS NULL AND $14::boolean
       )
     INSERT INTO document_versions (document_id, valid_from_run, observed_from, origin, refid, title, short_title, language,
       date_in_force_raw, last_change_in_force, last_changed_by, last_updated)
     SELECT $1, $2, $3, $5, $15, $16, $17, $18, $19, $20::date, $21, $22 WHERE $14::boolean`,
    values: [
      p.documentId,
      p.runId,
      p.observed,
      p.close,
      p.origin,
      added.map((x) => x.key),
      added.map((x) => x.hash),
      added.map((x) => x.number),
      added.map((x) => x.title),
      added.map((x) => x.inForce),
      added.map((x) => x.act),
      added.map((x) => x.source),
      added.map((x) => x.note),
      p.docMoved,
      doc.refid,
      doc.title,
      doc.short_title,
      doc.language,
      doc.date_in_force_raw,
      doc.last_change_in_force,
      doc.last_changed_by,
      doc.last_updated,
    ],
  });
}

/**
 * Closes every current version of a document tombstoned at the run, content copied from the
 * sections the tombstone keeps; observed at the run's archive lastModified (or the run's start).
 */
export async function closeDocumentHistory(
  c: Client,
  p: { runId: number; dataset: string; documentId: string },
): Promise<void> {
  const cur = await c.query<{ observed: string }>({
    name: 'history-removal-observed',
    text: `SELECT COALESCE((SELECT last_modified FROM run_datasets WHERE run_id = $1 AND dataset = $2),
       (SELECT started_at FROM sync_runs WHERE id = $1), now())::text AS observed`,
    values: [p.runId, p.dataset],
  });
  const observed = cur.rows[0]!.observed;
  await c.query({
    name: 'history-removal',
    text: `WITH closed AS (${CLOSE_SECTIONS})
     UPDATE document_versions SET valid_to_run = $2, observed_to = $3 WHERE document_id = $1 AND valid_to_run IS NULL`,
    values: [p.documentId, p.runId, observed, null],
  });
}
