/**
 * History queries (issue 13) over section_versions / document_versions (migration 0008), shared by
 * the CLI (`lovsync show | history | diff`) and the HTTP API. A point in time is a run (the versions
 * current at that run) or a date (the versions published, i.e. in the archive's lastModified, by the
 * end of that day in Europe/Oslo). Bad input throws HistoryInputError: kind `invalid` (a usage
 * error: exit 2 / HTTP 400) or `not_found` (exit 1 / HTTP 404).
 */
import type pg from 'pg';

type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

export class HistoryInputError extends Error {
  constructor(
    readonly kind: 'invalid' | 'not_found',
    message: string,
  ) {
    super(message);
    this.name = 'HistoryInputError';
  }
}

export type VersionPoint = { run: number } | { date: string };

const PG_INT_MAX = 2_147_483_647;
/** Lovdata publishes on Oslo time: a date means "as published by the end of that day there". */
const ZONE = 'Europe/Oslo';

/** A real calendar date YYYY-MM-DD. */
export function parseDate(v: string, what = 'date'): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v.trim());
  const iso = m ? `${m[1]}-${m[2]}-${m[3]}` : '';
  const t = m ? new Date(`${iso}T00:00:00Z`) : null;
  if (!t || Number.isNaN(t.getTime()) || t.toISOString().slice(0, 10) !== iso)
    throw new HistoryInputError('invalid', `${what} must be a date YYYY-MM-DD, got ${JSON.stringify(v)}`);
  return iso;
}

/** A run id. */
export function parseRunId(v: string, what = 'run'): number {
  if (!/^\d{1,10}$/.test(v.trim()) || Number(v) < 1 || Number(v) > PG_INT_MAX)
    throw new HistoryInputError(
      'invalid',
      `${what} must be a run id (a positive whole number), got ${JSON.stringify(v)}`,
    );
  return Number(v);
}

/** `12` = run 12, `2026-03-01` = that date. */
export function parseVersionPoint(v: string, what: string): VersionPoint {
  if (/^\d+$/.test(v.trim())) return { run: parseRunId(v, what) };
  if (/^\d{4}-\d{2}-\d{2}$/.test(v.trim())) return { date: parseDate(v, what) };
  throw new HistoryInputError(
    'invalid',
    `${what} must be a run id (e.g. 12) or a date YYYY-MM-DD, got ${JSON.stringify(v)}`,
  );
}

export function describePoint(p: VersionPoint): string {
  return 'run' in p ? `run ${p.run}` : p.date;
}

/** Throws not_found for a run id that does not exist. */
async function checkPoint(db: Queryable, p: VersionPoint): Promise<void> {
  if (!('run' in p)) return;
  const r = await db.query('SELECT 1 FROM sync_runs WHERE id = $1', [p.run]);
  if (!r.rowCount) throw new HistoryInputError('not_found', `run ${p.run} not found (see \`lovsync runs\`)`);
}

/** Parameters of pointWhere: the run, and the cutoff date. */
function pointParams(p: VersionPoint): [number | null, string | null] {
  return 'run' in p ? [p.run, null] : [null, p.date];
}

/** SQL: version `v` was current at the point given by parameters $r (run) and $d (date). */
function pointWhere(v: string, r: number, d: number): string {
  return `(($${r}::int IS NOT NULL AND ${v}.valid_from_run <= $${r}::int AND (${v}.valid_to_run IS NULL OR ${v}.valid_to_run > $${r}::int))
    OR ($${d}::date IS NOT NULL AND ${v}.observed_from < (($${d}::date + 1)::timestamp AT TIME ZONE '${ZONE}')
        AND (${v}.observed_to IS NULL OR ${v}.observed_to >= (($${d}::date + 1)::timestamp AT TIME ZONE '${ZONE}'))))`;
}

/**
 * The stored document id for what a user typed: the id itself (any case), a refid
 * (`lov/1999-03-26-17`; the consolidated document wins over its Lovtidend announcement), a legacy
 * id (`LOV-1999-03-26-17`) or a short title, whole or either side of its dash (`Husleieloven – husll`:
 * `husleieloven` or `husll`), case-insensitive.
 */
export async function resolveDocumentId(db: Queryable, input: string): Promise<string> {
  const v = input.trim();
  if (!v || v.length > 300 || /[\p{Cc}]/u.test(v))
    throw new HistoryInputError(
      'invalid',
      `document must be a document id, refid or short title, got ${JSON.stringify(input)}`,
    );
  const r = await db.query<{ document_id: string; how: number; pref: number }>(
    `SELECT document_id, how, pref FROM (
       SELECT document_id, 1 AS how, 0 AS pref FROM documents WHERE document_id = $1
       UNION ALL SELECT document_id, 2, 0 FROM documents WHERE lower(document_id) = lower($1)
       UNION ALL SELECT document_id, 3, CASE WHEN status = 'active' THEN 0 ELSE 2 END + CASE WHEN document_id LIKE 'LTI/%' THEN 1 ELSE 0 END
         FROM documents WHERE lower(refid) = lower($1)
       UNION ALL SELECT document_id, 4, CASE WHEN status = 'active' THEN 0 ELSE 2 END FROM documents WHERE lower(legacy_id) = lower($1)
       UNION ALL SELECT document_id, 5, CASE WHEN status = 'active' THEN 0 ELSE 2 END + CASE WHEN document_id LIKE 'LTI/%' THEN 1 ELSE 0 END
         FROM documents WHERE lower($1) IN (lower(short_title), lower(trim(split_part(short_title, ' – ', 1))),
           lower(trim(split_part(short_title, ' – ', 2))))
     ) m ORDER BY how, pref, document_id LIMIT 20`,
    [v],
  );
  if (!r.rows.length) throw new HistoryInputError('not_found', `document ${JSON.stringify(input)} not found`);
  const best = r.rows[0]!;
  const ties = r.rows.filter((x) => x.how === best.how && x.pref === best.pref);
  if (best.how >= 3 && ties.length > 1)
    throw new HistoryInputError(
      'invalid',
      `${JSON.stringify(input)} names several documents: ${ties.map((t) => t.document_id).join(', ')}; give the document id`,
    );
  return best.document_id;
}

/** The stored section key for what a user typed: `§9-3`, `§ 9-3`, `9-3`, any case. */
export async function resolveSectionKey(db: Queryable, documentId: string, input: string): Promise<string> {
  const v = input.trim();
  if (!v || v.length > 200 || /[\p{Cc}]/u.test(v))
    throw new HistoryInputError(
      'invalid',
      `section must be a section key such as §9-3, got ${JSON.stringify(input)}`,
    );
  const compact = v.replace(/\s+/g, '');
  const candidates = [v, compact, compact.startsWith('§') ? compact : `§${compact}`];
  const r = await db.query<{ section_key: string; how: number }>(
    `SELECT section_key, min(how) AS how FROM (
       SELECT section_key, array_position($2::text[], section_key) AS how FROM section_versions
       WHERE document_id = $1 AND section_key = ANY($2::text[])
       UNION ALL SELECT section_key, 10 FROM section_versions
       WHERE document_id = $1 AND lower(section_key) = ANY(SELECT lower(x) FROM unnest($2::text[]) x)
     ) m GROUP BY section_key ORDER BY 2, 1 LIMIT 1`,
    [documentId, candidates],
  );
  if (!r.rows.length)
    throw new HistoryInputError('not_found', `section ${JSON.stringify(input)} not found in ${documentId}`);
  return r.rows[0]!.section_key;
}

export interface DocumentVersionRow {
  documentId: string;
  validFromRun: number;
  validToRun: number | null;
  observedFrom: Date;
  observedTo: Date | null;
  origin: 'first_seen' | 'changed' | 'reparse';
  refid: string;
  title: string;
  shortTitle: string | null;
  language: string | null;
  dateInForceRaw: string | null;
  lastChangeInForce: string | null;
  lastChangedBy: string | null;
  lastUpdated: string | null;
}

export interface SectionVersionRow {
  documentId: string;
  sectionKey: string;
  validFromRun: number;
  validToRun: number | null;
  observedFrom: Date;
  observedTo: Date | null;
  origin: 'first_seen' | 'changed' | 'reparse';
  textHash: string;
  number: string | null;
  title: string | null;
  inForce: string | null;
  amendedBy: string | null;
  inForceSource: 'note' | 'document' | null;
  changeNote: string | null;
  kind: string | null;
  parentKey: string | null;
  headingPath: string | null;
  notes: string | null;
  ord: number | null;
  text: string;
}

const DOC_COLUMNS = `document_id AS "documentId", valid_from_run AS "validFromRun", valid_to_run AS "validToRun",
  observed_from AS "observedFrom", observed_to AS "observedTo", origin, refid, title, short_title AS "shortTitle", language,
  date_in_force_raw AS "dateInForceRaw", last_change_in_force::text AS "lastChangeInForce", last_changed_by AS "lastChangedBy",
  last_updated AS "lastUpdated"`;

const SECTION_COLUMNS = `v.document_id AS "documentId", v.section_key AS "sectionKey", v.valid_from_run AS "validFromRun",
  v.valid_to_run AS "validToRun", v.observed_from AS "observedFrom", v.observed_to AS "observedTo", v.origin,
  v.text_hash AS "textHash", v.number, v.title, v.in_force::text AS "inForce", v.amended_by AS "amendedBy",
  v.in_force_source AS "inForceSource", v.change_note AS "changeNote", v.kind, v.parent_key AS "parentKey",
  v.heading_path AS "headingPath", v.notes, v.ord, v.text`;

export interface DocumentAsOf {
  point: VersionPoint;
  document: DocumentVersionRow;
  sections: SectionVersionRow[];
  total: number;
  limit: number;
  offset: number;
}

/**
 * A document as it was at a run or date: its metadata version and every section version current
 * then, in document order (paged; `sectionKey` narrows to one section).
 */
export async function documentAsOf(
  db: Queryable,
  p: { documentId: string; point: VersionPoint; sectionKey?: string; limit?: number; offset?: number },
): Promise<DocumentAsOf> {
  await checkPoint(db, p.point);
  const [run, date] = pointParams(p.point);
  const limit = p.limit ?? 1000;
  const offset = p.offset ?? 0;
  const d = await db.query<DocumentVersionRow>(
    `SELECT ${DOC_COLUMNS} FROM document_versions v WHERE document_id = $1 AND ${pointWhere('v', 2, 3)}`,
    [p.documentId, run, date],
  );
  const document = d.rows[0];
  if (!document) {
    const first = await db.query<{ run: number; observed: Date }>(
      `SELECT valid_from_run AS run, observed_from AS observed FROM document_versions WHERE document_id = $1
       ORDER BY valid_from_run LIMIT 1`,
      [p.documentId],
    );
    const f = first.rows[0];
    throw new HistoryInputError(
      'not_found',
      f
        ? `${p.documentId} has no version at ${describePoint(p.point)} (its history starts at run ${f.run}, published ${f.observed.toISOString().slice(0, 10)}, or it was removed)`
        : `${p.documentId} has no recorded history`,
    );
  }
  const s = await db.query<SectionVersionRow & { total: number }>(
    `SELECT ${SECTION_COLUMNS}, count(*) OVER ()::int AS total FROM section_versions_full v
     WHERE v.document_id = $1 AND ${pointWhere('v', 2, 3)} AND ($4::text IS NULL OR v.section_key = $4)
     ORDER BY v.ord NULLS LAST, v.section_key LIMIT $5 OFFSET $6`,
    [p.documentId, run, date, p.sectionKey ?? null, limit, offset],
  );
  const total = s.rows[0]?.total ?? 0;
  if (p.sectionKey !== undefined && total === 0)
    throw new HistoryInputError(
      'not_found',
      `${p.documentId} ${p.sectionKey} has no version at ${describePoint(p.point)}`,
    );
  return {
    point: p.point,
    document,
    sections: s.rows.map(({ total: _t, ...row }) => row),
    total,
    limit,
    offset,
  };
}

/** The latest run (for `show` without a point). */
export async function latestRunId(db: Queryable): Promise<number | null> {
  const r = await db.query<{ id: number | null }>('SELECT max(id) AS id FROM sync_runs');
  return r.rows[0]?.id ?? null;
}

export interface SectionHistoryEntry extends SectionVersionRow {
  runStartedAt: Date | null;
}

/** Every version of one section, oldest first, with the amending act and in-force date when known. */
export async function sectionHistory(
  db: Queryable,
  p: { documentId: string; sectionKey: string; limit?: number; offset?: number },
): Promise<{ versions: SectionHistoryEntry[]; total: number; limit: number; offset: number }> {
  const limit = p.limit ?? 100;
  const offset = p.offset ?? 0;
  const r = await db.query<SectionHistoryEntry & { total: number }>(
    `SELECT ${SECTION_COLUMNS}, r.started_at AS "runStartedAt", count(*) OVER ()::int AS total
     FROM section_versions_full v LEFT JOIN sync_runs r ON r.id = v.valid_from_run
     WHERE v.document_id = $1 AND v.section_key = $2 ORDER BY v.valid_from_run LIMIT $3 OFFSET $4`,
    [p.documentId, p.sectionKey, limit, offset],
  );
  return {
    versions: r.rows.map(({ total: _t, ...row }) => row),
    total: r.rows[0]?.total ?? 0,
    limit,
    offset,
  };
}

export interface SectionDiffRow {
  documentId: string;
  sectionKey: string;
  change: 'added' | 'removed' | 'modified';
  number: string | null;
  title: string | null;
  headingPath: string | null;
  fromRun: number | null;
  toRun: number | null;
  amendedBy: string | null;
  inForce: string | null;
  oldText: string | null;
  newText: string | null;
}

export interface DocumentDiffRow {
  documentId: string;
  change: 'added' | 'removed' | 'modified';
  title: string | null;
  /** Metadata fields whose value differs (modified only). */
  fields: Record<string, { from: unknown; to: unknown }>;
}

export interface HistoryDiff {
  from: VersionPoint;
  to: VersionPoint;
  documentId: string | null;
  documents: DocumentDiffRow[];
  sections: SectionDiffRow[];
  total: number;
  limit: number;
  offset: number;
}

const DIFF_FIELDS = [
  'title',
  'short_title',
  'date_in_force_raw',
  'last_change_in_force',
  'last_changed_by',
  'last_updated',
] as const;

/** Throws `invalid` when from is not before to (same kind of point). */
export function checkRange(from: VersionPoint, to: VersionPoint): void {
  const same =
    'run' in from && 'run' in to
      ? from.run >= to.run
      : 'date' in from && 'date' in to
        ? from.date >= to.date
        : false;
  if (same)
    throw new HistoryInputError(
      'invalid',
      `the range is empty or reversed: --from ${describePoint(from)} must be before --to ${describePoint(to)}`,
    );
}

/**
 * What differs between two points, for one document or all: sections added / removed / modified
 * (text hash differs) with old and new text, in document order (paged), and documents whose
 * metadata differs or that exist at only one of the two points.
 */
export async function diffHistory(
  db: Queryable,
  p: { from: VersionPoint; to: VersionPoint; documentId?: string; limit?: number; offset?: number },
): Promise<HistoryDiff> {
  checkRange(p.from, p.to);
  await checkPoint(db, p.from);
  await checkPoint(db, p.to);
  const limit = p.limit ?? 500;
  const offset = p.offset ?? 0;
  const [r1, d1] = pointParams(p.from);
  const [r2, d2] = pointParams(p.to);
  const doc = p.documentId ?? null;
  const s = await db.query<SectionDiffRow & { total: number }>(
    `WITH a AS (
       SELECT v.document_id, v.section_key, v.valid_from_run, v.text_hash FROM section_versions v
       WHERE ($1::text IS NULL OR v.document_id = $1) AND ${pointWhere('v', 2, 3)}
     ), b AS (
       SELECT v.document_id, v.section_key, v.valid_from_run, v.text_hash FROM section_versions v
       WHERE ($1::text IS NULL OR v.document_id = $1) AND ${pointWhere('v', 4, 5)}
     ), d AS (
       SELECT COALESCE(a.document_id, b.document_id) AS document_id, COALESCE(a.section_key, b.section_key) AS section_key,
         a.valid_from_run AS from_run, b.valid_from_run AS to_run,
         CASE WHEN a.document_id IS NULL THEN 'added' WHEN b.document_id IS NULL THEN 'removed' ELSE 'modified' END AS change
       FROM a FULL JOIN b ON a.document_id = b.document_id AND a.section_key = b.section_key
       WHERE a.text_hash IS DISTINCT FROM b.text_hash
     ), page AS (
       SELECT d.*, count(*) OVER ()::int AS total FROM d
       LEFT JOIN section_versions_full o ON o.document_id = d.document_id AND o.section_key = d.section_key
         AND o.valid_from_run = COALESCE(d.to_run, d.from_run)
       ORDER BY d.document_id, o.ord NULLS LAST, d.section_key LIMIT $6 OFFSET $7
     )
     SELECT page.document_id AS "documentId", page.section_key AS "sectionKey", page.change,
       COALESCE(n.number, o.number) AS number, COALESCE(n.title, o.title) AS title,
       COALESCE(n.heading_path, o.heading_path) AS "headingPath", page.from_run AS "fromRun", page.to_run AS "toRun",
       n.amended_by AS "amendedBy", n.in_force::text AS "inForce", o.text AS "oldText", n.text AS "newText", page.total
     FROM page
     LEFT JOIN section_versions_full o ON o.document_id = page.document_id AND o.section_key = page.section_key AND o.valid_from_run = page.from_run
     LEFT JOIN section_versions_full n ON n.document_id = page.document_id AND n.section_key = page.section_key AND n.valid_from_run = page.to_run
     ORDER BY page.document_id, COALESCE(n.ord, o.ord) NULLS LAST, page.section_key`,
    [doc, r1, d1, r2, d2, limit, offset],
  );
  const dv = await db.query<{
    document_id: string;
    a: Record<string, unknown> | null;
    b: Record<string, unknown> | null;
  }>(
    `WITH a AS (SELECT * FROM document_versions v WHERE ($1::text IS NULL OR v.document_id = $1) AND ${pointWhere('v', 2, 3)}),
       b AS (SELECT * FROM document_versions v WHERE ($1::text IS NULL OR v.document_id = $1) AND ${pointWhere('v', 4, 5)})
     SELECT COALESCE(a.document_id, b.document_id) AS document_id,
       CASE WHEN a.document_id IS NULL THEN NULL ELSE json_build_object(${DIFF_FIELDS.map((f) => `'${f}', a.${f}`).join(', ')}) END AS a,
       CASE WHEN b.document_id IS NULL THEN NULL ELSE json_build_object(${DIFF_FIELDS.map((f) => `'${f}', b.${f}`).join(', ')}) END AS b
     FROM a FULL JOIN b ON a.document_id = b.document_id
     WHERE a.valid_from_run IS DISTINCT FROM b.valid_from_run
     ORDER BY 1 LIMIT 10000`,
    [doc, r1, d1, r2, d2],
  );
  const documents: DocumentDiffRow[] = [];
  for (const row of dv.rows) {
    if (!row.a || !row.b) {
      documents.push({
        documentId: row.document_id,
        change: row.a ? 'removed' : 'added',
        title: String((row.b ?? row.a)!.title ?? ''),
        fields: {},
      });
      continue;
    }
    const fields: DocumentDiffRow['fields'] = {};
    for (const f of DIFF_FIELDS)
      if (JSON.stringify(row.a[f]) !== JSON.stringify(row.b[f])) fields[f] = { from: row.a[f], to: row.b[f] };
    if (Object.keys(fields).length)
      documents.push({
        documentId: row.document_id,
        change: 'modified',
        title: String(row.b.title ?? ''),
        fields,
      });
  }
  return {
    from: p.from,
    to: p.to,
    documentId: doc,
    documents,
    sections: s.rows.map(({ total: _t, ...row }) => row),
    total: s.rows[0]?.total ?? 0,
    limit,
    offset,
  };
}
