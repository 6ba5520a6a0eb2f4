import type pg from 'pg';
import type { ExtractedDocument, ExtractedSection } from './extract/index.ts';

export interface SectionChange {
  key: string;
  change: 'added' | 'modified' | 'removed';
  number: string | null;
  headingPath: string | null;
  oldText: string | null;
  newText: string | null;
}

export interface StoredSection {
  section_key: string;
  /** null for a version reconstructed from section_changes (compared by text). */
  text_hash: string | null;
  text: string;
  number: string | null;
  heading_path: string;
}

/** Section-level diff by section_key and text hash, in the new document's order (removed last). */
export function diffSections(oldSections: StoredSection[], next: ExtractedSection[]): SectionChange[] {
  const before = new Map(oldSections.map((s) => [s.section_key, s]));
  const out: SectionChange[] = [];
  for (const s of next) {
    const o = before.get(s.key);
    before.delete(s.key);
    if (!o)
      out.push({
        key: s.key,
        change: 'added',
        number: s.number,
        headingPath: s.headingPath,
        oldText: null,
        newText: s.text,
      });
    else if (o.text_hash === null ? o.text !== s.text : o.text_hash !== s.textHash)
      out.push({
        key: s.key,
        change: 'modified',
        number: s.number,
        headingPath: s.headingPath,
        oldText: o.text,
        newText: s.text,
      });
  }
  for (const o of before.values()) {
    out.push({
      key: o.section_key,
      change: 'removed',
      number: o.number,
      headingPath: o.heading_path,
      oldText: o.text,
      newText: null,
    });
  }
  return out;
}

/** Oslo wall-clock 'YYYY-MM-DD HH:mm' as timestamptz input, converted by Postgres. */
function publishedAt(v: string | null): string | null {
  return v && /^\d{4}-\d{2}-\d{2}( \d{2}:\d{2})?$/.test(v) ? v : null;
}

export async function upsertDocument(
  c: pg.PoolClient,
  doc: ExtractedDocument,
  p: {
    dokid: string;
    dataset: string;
    path: string;
    sourceHash: string;
    runId: number;
    extractorVersion: string;
  },
): Promise<void> {
  // previous_carrier: the file that carried the document before this run (see decisions.ts).
  await c.query({
    name: 'parser-upsert-document',
    text: `INSERT INTO documents (document_id, dokid, extractor_version, refid, dataset, path, source_hash, title, short_title, legacy_id, language,
       ministries, date_in_force_raw, date_in_force, last_change_in_force, last_changed_by, changes_documents, based_on,
       legal_areas, published_at, journal_number, last_updated, is_amendment, status, last_run_id, updated_at)
     VALUES ($1,$23,$24,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12::date[],$13::date,$14,$15,$16,$17,
       ($18::timestamp AT TIME ZONE 'Europe/Oslo'),$19,$20,$21,'active',$22, now())
     ON CONFLICT (document_id) DO UPDATE SET dokid = EXCLUDED.dokid, extractor_version = EXCLUDED.extractor_version,
       previous_carrier = CASE WHEN documents.last_run_id < EXCLUDED.last_run_id
         THEN documents.dataset || '/' || documents.path ELSE documents.previous_carrier END,
       refid = EXCLUDED.refid, dataset = EXCLUDED.dataset, path = EXCLUDED.path,
       source_hash = EXCLUDED.source_hash, title = EXCLUDED.title, short_title = EXCLUDED.short_title,
       legacy_id = EXCLUDED.legacy_id, language = EXCLUDED.language, ministries = EXCLUDED.ministries,
       date_in_force_raw = EXCLUDED.date_in_force_raw, date_in_force = EXCLUDED.date_in_force,
       last_change_in_force = EXCLUDED.last_change_in_force, last_changed_by = EXCLUDED.last_changed_by,
       changes_documents = EXCLUDED.changes_documents, based_on = EXCLUDED.based_on, legal_areas = EXCLUDED.legal_areas,
       published_at = EXCLUDED.published_at, journal_number = EXCLUDED.journal_number,
       last_updated = EXCLUDED.last_updated, is_amendment = EXCLUDED.is_amendment, status = 'active',
       last_run_id = EXCLUDED.last_run_id, updated_at = now()`,
    values: [
      doc.documentId,
      doc.refid,
      p.dataset,
      p.path,
      p.sourceHash,
      doc.title,
      doc.shortTitle,
      doc.legacyId,
      doc.language,
      doc.ministries,
      doc.dateInForceRaw,
      doc.dateInForce,
      doc.lastChangeInForce,
      doc.lastChangedBy,
      doc.changesDocuments,
      doc.basedOn,
      doc.legalAreas,
      publishedAt(doc.publishedAt),
      doc.journalNumber,
      doc.lastUpdated,
      doc.isAmendment,
      p.runId,
      p.dokid,
      p.extractorVersion,
    ],
  });
}

/**
 * Language twins point at each other: every current document of the dokid gets twin_id = the other
 * current document carrying it (null when there is none, and on a tombstoned document). Computed from the set of documents, so it ends the
 * same whichever twin is written first; callers hold the dokid lock.
 */
export async function updateTwinPointers(c: pg.PoolClient, dokid: string): Promise<void> {
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

/**
 * Replaces the document's sections, chunks and cross-references: one DELETE statement when it had
 * content, then ONE statement inserting all three (data-modifying CTEs), so a file costs two round
 * trips here whatever its size.
 */
export async function replaceDocumentContent(
  c: pg.PoolClient,
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

export async function insertSectionChanges(
  c: pg.PoolClient,
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

const SEPARATOR = '\u001f';

/**
 * `texts` as one string, each text preceded by U+001F (Postgres: string_to_array(v, E'\\x1f'),
 * minus the first, empty element), or as the array itself when a text contains U+001F after all.
 */
export function packTexts(texts: string[]): { packed: boolean; value: string | string[] } {
  for (const t of texts) if (t.includes(SEPARATOR)) return { packed: false, value: texts };
  return { packed: true, value: texts.length ? SEPARATOR + texts.join(SEPARATOR) : '' };
}

/**
 * Per chunk: null text plus its 1-based start and length in bytes in the UTF-8 of the packed
 * section texts (see packTexts), or the text itself when it is not a piece of its section's text
 * (text outside § grouped per parent) or the texts could not be packed.
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
