/**
 * documents: one row per document (a dokid, or a language twin's storage id), written by the parse
 * job (services/parser/src/document-store.ts calls these inside its transaction). Its status:
 *
 *   (none) --upsertDocument--> active --tombstoneDocument--> removed --upsertDocument (revived)--> active
 *
 * A tombstoned document keeps its sections (history, revival); its chunks and cross-references go.
 */
import type pg from 'pg';

type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

export type DocumentStatus = 'active' | 'removed';

/** The document-level fields of a parsed document (services/parser's ExtractedDocument has them). */
export interface DocumentFields {
  documentId: string;
  refid: string;
  legacyId: string | null;
  language: string | null;
  title: string;
  shortTitle: string | null;
  ministries: string[];
  dateInForceRaw: string | null;
  dateInForce: string[];
  lastChangeInForce: string | null;
  lastChangedBy: string | null;
  changesDocuments: string[];
  basedOn: string[];
  legalAreas: string[];
  /** 'YYYY-MM-DD HH:mm' Oslo wall-clock time; anything else is stored as null. */
  publishedAt: string | null;
  journalNumber: string | null;
  lastUpdated: string | null;
  isAmendment: boolean;
}

/** Oslo wall-clock 'YYYY-MM-DD HH:mm' as timestamptz input, converted by Postgres. */
function publishedAt(v: string | null): string | null {
  return v && /^\d{4}-\d{2}-\d{2}( \d{2}:\d{2})?$/.test(v) ? v : null;
}

/**
 * (none | active | removed) -> active: the document as parsed from `dataset/path` in run `runId`.
 * previous_carrier keeps the file that carried it before this run (see services/parser/src/decisions.ts).
 */
export async function upsertDocument(
  db: Queryable,
  doc: DocumentFields,
  p: {
    dokid: string;
    dataset: string;
    path: string;
    sourceHash: string;
    runId: number;
    extractorVersion: string;
  },
): Promise<void> {
  await db.query({
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
 * active -> removed at run `runId`: its chunks and cross-references deleted (sections kept), the
 * file that carried it before this run remembered in previous_carrier.
 */
export async function tombstoneDocument(
  db: Queryable,
  p: { documentId: string; runId: number },
): Promise<void> {
  await db.query(
    `WITH ch AS (DELETE FROM chunks WHERE document_id = $1), xr AS (DELETE FROM cross_references WHERE document_id = $1)
       UPDATE documents SET status = 'removed', last_run_id = $2, updated_at = now(),
         previous_carrier = CASE WHEN last_run_id < $2 THEN dataset || '/' || path ELSE previous_carrier END
       WHERE document_id = $1`,
    [p.documentId, p.runId],
  );
}
