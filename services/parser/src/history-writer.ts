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
 *
 * This file decides which versions to write; the statements are in document-store.ts (a tombstone's
 * versions are closed there: closeDocumentHistory).
 */
import type { ExtractedDocument } from './extract/index.ts';
import { lastChangedByAct, latestChange, parseChangeNotes } from './change-notes.ts';
import {
  readHistoryState,
  rebaseHistoryOnPreviousRun,
  writeHistory,
  type DocumentVersionFields,
  type SectionVersionRow,
  type StoreClient,
} from './document-store.ts';

type Client = StoreClient;

/**
 * Records the versions an added or modified file's document brings: a new section version for every
 * section whose text hash (number + title + text) is new, the previous one closed; a new document
 * version when its metadata moved. Sections unchanged since their version cost nothing.
 */
export async function recordDocumentHistory(
  c: Client,
  p: {
    runId: number;
    dataset: string;
    doc: ExtractedDocument;
    previousRunId: number | null;
    /** The document's source bytes are the ones it was last derived from: only the extraction moved. */
    sourceUnchanged: boolean;
  },
): Promise<void> {
  const { runId, doc } = p;
  const id = doc.documentId;
  if (p.previousRunId === runId) await rebaseHistoryOnPreviousRun(c, id, runId);
  const cur = await readHistoryState(c, id, runId, p.dataset);
  // A version the extractor alone caused (same source bytes) is not a change Lovdata published.
  const origin = !cur.known ? 'first_seen' : p.sourceUnchanged ? 'reparse' : 'changed';
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

  const added: SectionVersionRow[] = [];
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
    let v: Pick<SectionVersionRow, 'inForce' | 'act' | 'source' | 'note'> = {
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
  await writeHistory(c, {
    documentId: id,
    runId,
    observed: cur.observed,
    origin,
    close,
    added,
    docMoved,
    doc: docFields,
  });
}
