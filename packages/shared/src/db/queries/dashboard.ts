/**
 * Read-only queries behind the dashboard and the JSON API. Each is a plain `fn(pool, params)`;
 * column names are camelCased in SQL so rows go out as they come; dates are read as text so a
 * `date` never shifts by the server's time zone.
 */
import type pg from 'pg';

type Queryable = Pick<pg.Pool, 'query'>;

export type ChangeKind = 'files' | 'sections' | 'documents';

export interface Page<T> {
  total: number;
  limit: number;
  offset: number;
  items: T[];
}

export interface FileChangeRow {
  id: number;
  dataset: string;
  path: string;
  change: 'added' | 'modified' | 'removed';
  oldHash: string | null;
  newHash: string | null;
  oldSize: number | null;
  newSize: number | null;
  parseStatus: 'pending' | 'succeeded' | 'failed';
  parseError: string | null;
  parsedAt: Date | null;
}

export interface SectionChangeRow {
  documentId: string;
  sectionKey: string;
  change: 'added' | 'modified' | 'removed';
  number: string | null;
  headingPath: string | null;
  oldText: string | null;
  newText: string | null;
}

export interface DocumentChangeRow {
  documentId: string;
  change: 'added' | 'modified' | 'removed';
  kind: 'amendment' | 'editorial' | null;
  dataset: string;
  path: string;
  sectionsAdded: number;
  sectionsModified: number;
  sectionsRemoved: number;
  createdAt: Date;
  title: string | null;
  shortTitle: string | null;
}

const CHANGE_QUERIES: Record<ChangeKind, { count: string; list: string }> = {
  files: {
    count: 'SELECT count(*)::int AS n FROM file_changes WHERE run_id = $1',
    list: `SELECT id, dataset, path, change, old_hash AS "oldHash", new_hash AS "newHash", old_size AS "oldSize",
             new_size AS "newSize", parse_status AS "parseStatus", parse_error AS "parseError", parsed_at AS "parsedAt"
           FROM file_changes WHERE run_id = $1 ORDER BY dataset, path LIMIT $2 OFFSET $3`,
  },
  sections: {
    count: 'SELECT count(*)::int AS n FROM section_changes WHERE run_id = $1',
    list: `SELECT sc.document_id AS "documentId", sc.section_key AS "sectionKey", sc.change, sc.number,
             sc.heading_path AS "headingPath", sc.old_text AS "oldText", sc.new_text AS "newText"
           FROM section_changes sc
           LEFT JOIN sections s ON s.document_id = sc.document_id AND s.section_key = sc.section_key
           WHERE sc.run_id = $1
           ORDER BY sc.document_id, s.ord NULLS LAST, sc.section_key LIMIT $2 OFFSET $3`,
  },
  documents: {
    count: 'SELECT count(*)::int AS n FROM document_changes WHERE run_id = $1',
    list: `SELECT dc.document_id AS "documentId", dc.change, dc.kind, dc.dataset, dc.path,
             dc.sections_added AS "sectionsAdded", dc.sections_modified AS "sectionsModified",
             dc.sections_removed AS "sectionsRemoved", dc.created_at AS "createdAt",
             d.title, d.short_title AS "shortTitle"
           FROM document_changes dc LEFT JOIN documents d ON d.document_id = dc.document_id
           WHERE dc.run_id = $1 ORDER BY dc.document_id LIMIT $2 OFFSET $3`,
  },
};

export async function listRunChanges(
  db: Queryable,
  p: { runId: number; kind: 'files'; limit: number; offset: number },
): Promise<Page<FileChangeRow>>;
export async function listRunChanges(
  db: Queryable,
  p: { runId: number; kind: 'sections'; limit: number; offset: number },
): Promise<Page<SectionChangeRow>>;
export async function listRunChanges(
  db: Queryable,
  p: { runId: number; kind: 'documents'; limit: number; offset: number },
): Promise<Page<DocumentChangeRow>>;
export async function listRunChanges(
  db: Queryable,
  p: { runId: number; kind: ChangeKind; limit: number; offset: number },
): Promise<Page<FileChangeRow | SectionChangeRow | DocumentChangeRow>>;
export async function listRunChanges(
  db: Queryable,
  p: { runId: number; kind: ChangeKind; limit: number; offset: number },
): Promise<Page<FileChangeRow | SectionChangeRow | DocumentChangeRow>> {
  const q = CHANGE_QUERIES[p.kind];
  const [count, list] = await Promise.all([
    db.query<{ n: number }>(q.count, [p.runId]),
    db.query<FileChangeRow | SectionChangeRow | DocumentChangeRow>(q.list, [p.runId, p.limit, p.offset]),
  ]);
  return { total: count.rows[0]?.n ?? 0, limit: p.limit, offset: p.offset, items: list.rows };
}

/** How many files of a run changed in each way, and how their parsing went. */
export async function fileChangeSummary(
  db: Queryable,
  runId: number,
): Promise<{ change: string; parseStatus: string; n: number }[]> {
  const res = await db.query<{ change: string; parseStatus: string; n: number }>(
    `SELECT change, parse_status AS "parseStatus", count(*)::int AS n FROM file_changes WHERE run_id = $1
     GROUP BY change, parse_status ORDER BY change, parse_status`,
    [runId],
  );
  return res.rows;
}

export interface DocumentRow {
  documentId: string;
  refid: string;
  dataset: string;
  path: string;
  sourceHash: string;
  title: string;
  shortTitle: string | null;
  legacyId: string | null;
  language: string | null;
  ministries: string[];
  dateInForceRaw: string | null;
  dateInForce: string[];
  lastChangeInForce: string | null;
  lastChangedBy: string | null;
  changesDocuments: string[];
  basedOn: string[];
  legalAreas: string[];
  publishedAt: Date | null;
  journalNumber: string | null;
  lastUpdated: string | null;
  isAmendment: boolean;
  status: 'active' | 'removed';
  lastRunId: number;
  updatedAt: Date;
  sectionCount: number;
}

export async function getDocument(db: Queryable, documentId: string): Promise<DocumentRow | undefined> {
  const res = await db.query<DocumentRow>(
    `SELECT d.document_id AS "documentId", d.refid, d.dataset, d.path, d.source_hash AS "sourceHash", d.title,
       d.short_title AS "shortTitle", d.legacy_id AS "legacyId", d.language, d.ministries,
       d.date_in_force_raw AS "dateInForceRaw", d.date_in_force::text[] AS "dateInForce",
       d.last_change_in_force::text AS "lastChangeInForce", d.last_changed_by AS "lastChangedBy",
       d.changes_documents AS "changesDocuments", d.based_on AS "basedOn", d.legal_areas AS "legalAreas",
       d.published_at AS "publishedAt", d.journal_number AS "journalNumber", d.last_updated AS "lastUpdated",
       d.is_amendment AS "isAmendment", d.status, d.last_run_id AS "lastRunId", d.updated_at AS "updatedAt",
       (SELECT count(*)::int FROM sections s WHERE s.document_id = d.document_id) AS "sectionCount"
     FROM documents d WHERE d.document_id = $1`,
    [documentId],
  );
  return res.rows[0];
}

export interface SectionRow {
  sectionKey: string;
  parentKey: string | null;
  kind: string;
  number: string | null;
  title: string | null;
  headingPath: string;
  text: string;
  notes: string | null;
  repealed: boolean;
  textHash: string;
  ord: number;
}

export async function listSections(
  db: Queryable,
  p: { documentId: string; limit: number; offset: number },
): Promise<Page<SectionRow>> {
  const [count, list] = await Promise.all([
    db.query<{ n: number }>('SELECT count(*)::int AS n FROM sections WHERE document_id = $1', [p.documentId]),
    db.query<SectionRow>(
      `SELECT section_key AS "sectionKey", parent_key AS "parentKey", kind, number, title, heading_path AS "headingPath",
         text, notes, repealed, text_hash AS "textHash", ord
       FROM sections WHERE document_id = $1 ORDER BY ord LIMIT $2 OFFSET $3`,
      [p.documentId, p.limit, p.offset],
    ),
  ]);
  return { total: count.rows[0]?.n ?? 0, limit: p.limit, offset: p.offset, items: list.rows };
}

export interface RunDatasetRow {
  dataset: string;
  status: string;
  vanished: boolean;
  lastModified: Date | null;
  archiveBytes: number | null;
  fileCount: number | null;
  bytesDownloaded: number;
  entriesRefused: number;
  error: string | null;
}

export async function listRunDatasets(db: Queryable, runId: number): Promise<RunDatasetRow[]> {
  const res = await db.query<RunDatasetRow>(
    `SELECT dataset, status, vanished, last_modified AS "lastModified", archive_bytes AS "archiveBytes",
       file_count AS "fileCount", bytes_downloaded AS "bytesDownloaded", entries_refused AS "entriesRefused", error
     FROM run_datasets WHERE run_id = $1 ORDER BY dataset`,
    [runId],
  );
  return res.rows;
}
