/**
 * The parse write path's decisions as pure functions (issue 11 point 4): who writes a document when
 * several files carry it, what its previous version is, how its sections changed, and which change
 * rows a write records. parse-job.ts gathers the facts in its transaction and document-store.ts runs
 * the statements.
 */
import type { ExtractedSection } from './extract/index.ts';

export interface FileRef {
  dataset: string;
  path: string;
}

export const fileKey = (f: FileRef): string => `${f.dataset}/${f.path}`;
const sameFile = (a: FileRef, b: FileRef) => a.dataset === b.dataset && a.path === b.path;
/** Lexicographic (dataset, path) order, by code unit: the same in every process and locale. */
export const compareFiles = (a: FileRef, b: FileRef): number =>
  a.dataset < b.dataset ? -1 : a.dataset > b.dataset ? 1 : a.path < b.path ? -1 : a.path > b.path ? 1 : 0;

export interface WriterFacts {
  /** The file being parsed. */
  self: FileRef;
  /** The current file that carried the document before this run (documents.dataset/path as of the
   * run's start), or null when there is none (new document, or its file was removed). */
  incumbent: FileRef | null;
  /** Other files with a row in this run already known to carry the same document id. */
  rivals: FileRef[];
}

export type WriterDecision =
  { write: true; collisionWith: FileRef | null } | { write: false; winner: FileRef };

/**
 * dokid collisions: the incumbent (the file that already carried the document) keeps it, so an
 * existing document is never replaced by another file carrying its dokid; without an incumbent the
 * lexicographically first (dataset, path) among the files of the run wins. The other files are
 * recorded as collisions. The decision depends on the set of files, never on job order.
 */
export function chooseWriter(f: WriterFacts): WriterDecision {
  const rivals = [...f.rivals].filter((r) => !sameFile(r, f.self)).sort(compareFiles);
  if (f.incumbent && !sameFile(f.incumbent, f.self)) return { write: false, winner: f.incumbent };
  if (f.incumbent) return { write: true, collisionWith: rivals[0] ?? null };
  const first = rivals[0];
  if (first && compareFiles(first, f.self) < 0) return { write: false, winner: first };
  return { write: true, collisionWith: first ?? null };
}

export interface PreviousFacts {
  runId: number;
  /** The stored document, or null. */
  prev: { status: 'active' | 'removed'; lastRunId: number } | null;
  /** This run's document_changes row for the document, if any. */
  runChange: 'added' | 'modified' | 'removed' | null;
}

/**
 * What a write compares against: 'none' (a new document: added), 'stored' (the stored sections; a
 * document tombstoned earlier in this run is `revived` and compared with its version before the
 * tombstone, so a rename leaves no trace) or 'stored-before-run' (another file of this run already
 * wrote it: the stored sections with this run's section changes undone).
 */
export function choosePrevious(p: PreviousFacts): {
  baseline: 'none' | 'stored' | 'stored-before-run';
  revived: boolean;
} {
  if (!p.prev) return { baseline: 'none', revived: false };
  if (p.prev.lastRunId < p.runId)
    return { baseline: p.prev.status === 'removed' ? 'none' : 'stored', revived: false };
  if (p.runChange === 'removed') return { baseline: 'stored', revived: true };
  if (p.runChange === 'added') return { baseline: 'none', revived: false };
  if (p.runChange === 'modified') return { baseline: 'stored-before-run', revived: false };
  return { baseline: 'stored', revived: false };
}

export interface ChangeFacts {
  isNew: boolean;
  /** The stored version was derived from the same bytes (documents.source_hash = the parsed hash):
   * any difference is the extractor's doing. */
  sameSource: boolean;
  /** A `lovsync reparse` job. */
  reparse: boolean;
  sectionChanges: number;
  /** lastChangedBy, lastChangeInForce or the title moved. */
  metadataMoved: boolean;
  /** lastChangedBy or lastChangeInForce moved. */
  amendment: boolean;
}

export interface ChangeRows {
  change: 'added' | 'modified' | null;
  kind: 'amendment' | 'editorial' | 'reparse' | null;
  /** Whether section_changes rows are written (only for a modified document whose source changed). */
  sectionRows: boolean;
}

/**
 * The change-row rule. section_changes record what changed INSIDE a document that exists before and
 * after: an added or removed document writes one document_changes row (with its section count in
 * sections_added / sections_removed) and no section_changes, both ways. A change the extractor
 * alone caused (same source bytes: a reparse, or a file renamed after an extractor upgrade) is
 * document_changes kind `reparse` without section_changes, never amendment/editorial. A document
 * whose derived content is identical writes nothing, whatever happened to its bytes.
 */
export function classifyChange(f: ChangeFacts): ChangeRows {
  if (f.isNew) return { change: 'added', kind: f.reparse ? 'reparse' : null, sectionRows: false };
  if (!f.sectionChanges && !f.metadataMoved) return { change: null, kind: null, sectionRows: false };
  if (f.sameSource) return { change: 'modified', kind: 'reparse', sectionRows: false };
  return { change: 'modified', kind: f.amendment ? 'amendment' : 'editorial', sectionRows: true };
}

/** A section as stored (or as it was before this run): what a new version is compared with. */
export interface StoredSection {
  section_key: string;
  /** null for a version reconstructed from section_changes (compared by text). */
  text_hash: string | null;
  text: string;
  number: string | null;
  heading_path: string;
}

/** A section_changes row of this run (what rebuilding the version before the run undoes). */
export interface RunSectionChange {
  section_key: string;
  change: string;
  number: string | null;
  heading_path: string | null;
  old_text: string | null;
}

/** The stored sections with this run's section changes undone: the version before this run. */
export function sectionsBeforeRun(stored: StoredSection[], runChanges: RunSectionChange[]): StoredSection[] {
  const byKey = new Map(stored.map((s) => [s.section_key, s]));
  for (const ch of runChanges) {
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

export interface SectionChange {
  key: string;
  change: 'added' | 'modified' | 'removed';
  number: string | null;
  headingPath: string | null;
  oldText: string | null;
  newText: string | null;
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
