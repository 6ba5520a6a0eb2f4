/**
 * Versioned history (issue 13): section_versions and document_versions, written inside the parse
 * job's transaction, before the document's rows are replaced (closing a version copies its content
 * from the `sections` row it is about to lose). See migration 0008 for the model.
 *
 * Order-safety comes from the caller: a job of an older run than the document's last run never
 * gets here (superseded). A document written again in the same run (a Lovtidend archive renamed:
 * the removal tombstoned it first; two files carrying one dokid) is first rebased on the state
 * before the run, so the result does not depend on the order of the run's jobs and a rename that
 * restores the same content leaves no version at all.
 */
import type pg from 'pg';
import type { ExtractedDocument } from './extract/index.ts';
import { lastChangedByAct, latestChange, parseChangeNotes } from './change-notes.ts';

type Client = Pick<pg.PoolClient, 'query'>;

interface CurrentState {
  observed: string;
  known: boolean;
  doc: DocumentVersionFields | null;
  sections: [key: string, hash: string, amendedBy: string | null][];
}

interface DocumentVersionFields {
  refid: string;
  title: string;
  short_title: string | null;
  language: string | null;
  date_in_force_raw: string | null;
  last_change_in_force: string | null;
  last_changed_by: string | null;
  last_updated: string | null;
}

/** Undoes what earlier jobs of this run did to the document's history (no-op unless it was written in this run). */
async function rebaseOnPreviousRun(c: Client, documentId: string, runId: number): Promise<void> {
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
async function currentState(
  c: Client,
  documentId: string,
  runId: number,
  dataset: string,
): Promise<CurrentState> {
  const r = await c.query<CurrentState>({
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
 * Records the versions an added or modified file's document brings: a new section version for every
 * section whose text hash (number + title + text) is new, the previous one closed; a new document
 * version when its metadata moved. Sections unchanged since their version cost nothing.
 */
export async function recordDocumentHistory(
  c: Client,
  p: { runId: number; dataset: string; doc: ExtractedDocument; previousRunId: number | null },
): Promise<void> {
  const { runId, doc } = p;
  const id = doc.documentId;
  if (p.previousRunId === runId) await rebaseOnPreviousRun(c, id, runId);
  const cur = await currentState(c, id, runId, p.dataset);
  const origin = cur.known ? 'changed' : 'first_seen';
  const before = new Map(cur.sections.map(([k, h, a]) => [k, { hash: h, amendedBy: a }]));
  const docFields: DocumentVersionFields = {
    refid: doc.refid,
    title: doc.title,
    short_title: doc.shortTitle,
    language: doc.language,
    date_in_force_raw: doc.dateInForceRaw,
    last_change_in_force: doc.lastChangeInForce,
    last_changed_by: doc.lastChangedBy,
    last_updated: doc.lastUpdated,
  };
  const docMoved =
    !cur.doc ||
    (Object.keys(docFields) as (keyof DocumentVersionFields)[]).some((k) => cur.doc![k] !== docFields[k]);
  const amendmentMoved =
    !!cur.doc &&
    (cur.doc.last_changed_by !== doc.lastChangedBy || cur.doc.last_change_in_force !== doc.lastChangeInForce);

  const added: {
    key: string;
    hash: string;
    number: string | null;
    title: string | null;
    inForce: string | null;
    act: string | null;
    source: 'note' | 'document' | null;
    note: string | null;
  }[] = [];
  const close: string[] = [];
  for (const s of doc.sections) {
    const prev = before.get(s.key);
    before.delete(s.key);
    if (prev?.hash === s.textHash) continue;
    if (prev) close.push(s.key);
    // The wording's in-force date and amending act: the latest "(ikr. DATE)" entry of its note when
    // that names an act the previous version did not already carry; else, for a change, the
    // document's lastChangedBy/lastChangeInForce when they moved in this run; else unknown (NULL).
    const entry = latestChange(parseChangeNotes(s.notes));
    let v: Pick<(typeof added)[number], 'inForce' | 'act' | 'source' | 'note'> = {
      inForce: null,
      act: null,
      source: null,
      note: null,
    };
    if (entry && entry.act !== prev?.amendedBy)
      v = { inForce: entry.inForce, act: entry.act, source: 'note', note: entry.raw };
    else if (origin === 'changed' && amendmentMoved)
      v = {
        inForce: doc.lastChangeInForce,
        act: lastChangedByAct(doc.lastChangedBy),
        source: 'document',
        note: doc.lastChangedBy,
      };
    added.push({ key: s.key, hash: s.textHash, number: s.number, title: s.title, ...v });
  }
  close.push(...before.keys());
  if (!added.length && !close.length && !docMoved) return;
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
      id,
      runId,
      cur.observed,
      close,
      origin,
      added.map((x) => x.key),
      added.map((x) => x.hash),
      added.map((x) => x.number),
      added.map((x) => x.title),
      added.map((x) => x.inForce),
      added.map((x) => x.act),
      added.map((x) => x.source),
      added.map((x) => x.note),
      docMoved,
      docFields.refid,
      docFields.title,
      docFields.short_title,
      docFields.language,
      docFields.date_in_force_raw,
      docFields.last_change_in_force,
      docFields.last_changed_by,
      docFields.last_updated,
    ],
  });
}

/**
 * A document tombstoned at the run (its file removed for good): every current version is closed,
 * content copied from the sections the tombstone keeps. Reviving it later in the same run undoes this.
 */
export async function recordDocumentRemoval(
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
