import { estimateTokens } from './chunker.ts';
import { refsInText, splitTarget } from './cross-references.ts';
import { DocumentLimitError, MalformedDocumentError } from './errors.ts';
import type { HeaderValues } from './header-fields.ts';
import { MAX_HEADING_PATH_CHARS, MAX_WORK_PER_INPUT_CHAR, WORK_ALLOWANCE } from './limits.ts';
import { joinNormalised } from './text-normaliser.ts';
import type {
  CrossReferenceKind,
  ExtractedChunk,
  ExtractedCrossReference,
  ExtractedDocument,
  ExtractedSection,
  SectionKind,
} from './types.ts';
import type { PendingReference, Unit } from './unit.ts';

const AMENDMENT_TITLE = /^(?:lov|forskrift|vedtak|kunngjøring|instruks|forordning)\s+om\s+endring/i;
const AMENDMENT_SHORT_TITLE = /^endrings(?:lov|forskrift)/i;

/** The longest dokid (= document id) accepted; longer ones are refused as malformed (issue 17 point 12). */
export const MAX_DOKID_LENGTH = 200;
/** What the extractor collected from one document. */
export interface CollectedDocument {
  header: HeaderValues;
  h1Parts: readonly string[];
  /** Every unit in document order (dropped text blocks included). */
  units: readonly Unit[];
  refs: readonly PendingReference[];
  language: string | null;
  articleCount: number;
  changeCount: number;
  /** UTF-16 code units of input (the work budget is proportional to it). */
  inputLength: number;
}

export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * The extractor's result: document fields, sections with heading paths (capped, see limits.ts),
 * text-block keys, chunks and cross-references resolved to final keys. Yields to the event loop
 * every 20,000 units.
 */
export async function assembleResult(parts: CollectedDocument): Promise<ExtractedDocument> {
  const h = parts.header;
  if (h.dokid === null) throw new MalformedDocumentError('document has no dokid');
  // Real dokids are ~20-40 characters (NL/lov/1999-03-26-17); a 100,000-character one is an attack.
  if (h.dokid.length > MAX_DOKID_LENGTH)
    throw new MalformedDocumentError(
      `dokid is ${h.dokid.length} characters long, more than ${MAX_DOKID_LENGTH} (starts ${JSON.stringify(h.dokid.slice(0, 40))})`,
    );
  const documentId = h.dokid;
  const refid = h.refid ?? documentId.slice(documentId.indexOf('/') + 1);
  const title = h.title ?? joinNormalised(parts.h1Parts) ?? '';

  const sections: ExtractedSection[] = [];
  const chunks: ExtractedChunk[] = [];
  const blockCounts = new Map<Unit | null, number>();
  let done = 0;
  // Work per document: every output character (texts, notes, heading paths of sections and of
  // chunks) is counted against a budget proportional to the input.
  let work = 0;
  const workLimit = MAX_WORK_PER_INPUT_CHAR * parts.inputLength + WORK_ALLOWANCE;
  for (const unit of parts.units) {
    if (unit.dropped) continue;
    const parent = unit.parent;
    const parentKey = parent === null ? null : parent.key;
    if (unit.kind === 'text_block') {
      const k = blockCounts.get(parent) ?? 0;
      blockCounts.set(parent, k + 1);
      unit.key = `${parentKey ?? 'main'}/text-${k}`;
    }
    const parentPath = parent === null ? '' : parent.headingPath;
    // Checked before the string is built: a path never grows past the cap, so paths cost at
    // most MAX_HEADING_PATH_CHARS per unit however deep the nesting.
    const pathLength =
      parentPath.length + (parentPath !== '' && unit.heading !== '' ? 3 : 0) + unit.heading.length;
    if (pathLength > MAX_HEADING_PATH_CHARS) {
      throw new DocumentLimitError(
        `heading path of section ${unit.key} is ${pathLength} characters, over the limit of ${MAX_HEADING_PATH_CHARS} (MAX_HEADING_PATH_CHARS)`,
      );
    }
    unit.headingPath =
      parentPath === '' ? unit.heading : unit.heading === '' ? parentPath : `${parentPath} > ${unit.heading}`;
    work += unit.headingPath.length * (1 + unit.chunkTexts.length) + unit.text.length * 2;
    work += unit.notesText?.length ?? 0;
    if (work > workLimit) {
      throw new DocumentLimitError(
        `document output exceeds ${workLimit} characters (${MAX_WORK_PER_INPUT_CHAR} per input character + ${WORK_ALLOWANCE}; MAX_WORK_PER_INPUT_CHAR)`,
      );
    }
    sections.push({
      key: unit.key,
      dataName: unit.dataName,
      parentKey,
      kind: unit.kind as SectionKind,
      number: unit.number,
      title: unit.title,
      headingPath: unit.headingPath,
      text: unit.text,
      notes: unit.notesText,
      repealed: unit.repealed,
      ord: sections.length,
      textHash: unit.textHash,
      consolidationMarkers: [...unit.markers],
    });
    const texts = unit.chunkTexts;
    for (let k = 0; k < texts.length; k++) {
      const text = texts[k] as string;
      chunks.push({
        chunkId: `${documentId}/${unit.key}#c${k}`,
        sectionKey: unit.key,
        ord: chunks.length,
        headingPath: unit.headingPath,
        text,
        tokenCount: estimateTokens(text),
      });
    }
    unit.chunkTexts = [];
    // Keep the loop responsive on huge documents.
    if (++done % 20_000 === 0) await yieldToEventLoop();
  }

  const crossReferences: ExtractedCrossReference[] = [];
  for (const ref of parts.refs) {
    let unit = ref.unit;
    while (unit !== null && unit.dropped) unit = unit.parent;
    crossReferences.push({
      sectionKey: unit === null ? null : unit.key,
      kind: ref.kind,
      raw: ref.raw,
      ...splitTarget(ref.first),
      targets: ref.targets,
    });
  }
  const headerRef = (kind: CrossReferenceKind, raw: string): void => {
    crossReferences.push({ sectionKey: null, kind, raw, ...splitTarget(raw), targets: [raw] });
  };
  for (const raw of h.changesDocuments) headerRef('changes_document', raw);
  for (const raw of h.basedOn) headerRef('based_on', raw);
  if (h.lastChangedBy !== null)
    for (const raw of refsInText(h.lastChangedBy)) headerRef('last_changed_by', raw);

  const isAmendment =
    AMENDMENT_TITLE.test(title) ||
    (h.shortTitle !== null && AMENDMENT_SHORT_TITLE.test(h.shortTitle)) ||
    (parts.articleCount === 0 && parts.changeCount > 0);

  return {
    documentId,
    refid,
    legacyId: h.legacyId,
    language: parts.language,
    title,
    shortTitle: h.shortTitle,
    ministries: h.ministries,
    subunits: h.subunits,
    dateInForceRaw: h.dateInForceRaw,
    dateInForce: h.dateInForce,
    lastChangeInForce: h.lastChangeInForce,
    lastChangedBy: h.lastChangedBy,
    changesDocuments: h.changesDocuments,
    basedOn: h.basedOn,
    legalAreas: h.legalAreas,
    publishedAt: h.publishedAt,
    journalNumber: h.journalNumber,
    lastUpdated: h.lastUpdated,
    isAmendment,
    sections,
    chunks,
    crossReferences,
  };
}
