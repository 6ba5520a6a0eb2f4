export type SectionKind = 'chapter' | 'article' | 'future_article' | 'text_block';

export interface ExtractedSection {
  /** Unique within the document. § = legalArticle@data-name ('§1-2'); future § = its data-name, or
   * 'future:§5' when a current § has the same name; chapter = last segment of data-lovdata-URL
   * ('KAPITTEL_4-1'); text block = `${parentKey ?? 'main'}/text-${k}`. Duplicates get '~2', '~3'. */
  key: string;
  /** The raw attribute the key was made from, as written (data-name; a chapter's data-lovdata-URL
   * segment), before key normalisation (section-keys.ts); null for text blocks and when absent. */
  dataName: string | null;
  /** Enclosing chapter/§ key, null at top level. */
  parentKey: string | null;
  kind: SectionKind;
  /** '§ 13-2', 'Kapittel 4', 'I' … where present. */
  number: string | null;
  title: string | null;
  /** Ancestors' headings + own heading, joined with ' > '. */
  headingPath: string;
  /** Normalised text (lines separated by '\n'); '' for chapters. */
  text: string;
  /** changesToParent text(s) of this unit, joined by '\n'. */
  notes: string | null;
  repealed: boolean;
  /** 0-based document order. */
  ord: number;
  /** sha1 hex of `${number ?? ''}\n${title ?? ''}\n${text}`. */
  textHash: string;
  /** Ids of the EUR-Lex consolidation markers (`►M3` -> 'M3') stripped from this unit's text,
   * title and heading, in order of first appearance. */
  consolidationMarkers: string[];
}

export interface ExtractedChunk {
  /** `${documentId}/${sectionKey}#c${k}` */
  chunkId: string;
  sectionKey: string;
  ord: number;
  headingPath: string;
  text: string;
  /** Math.ceil(chars / 4) */
  tokenCount: number;
}

export type CrossReferenceKind =
  | 'link'
  | 'amend_change'
  | 'amend_add'
  | 'amend_repeal'
  | 'amend_move'
  | 'based_on'
  | 'changes_document'
  | 'last_changed_by';

export interface ExtractedCrossReference {
  sectionKey: string | null;
  kind: CrossReferenceKind;
  /** The reference as written ('lov/2013-06-21-100/§5-7'); for amend_* the whole (whitespace
   * normalised) attribute value, which can name several targets. */
  raw: string;
  /** 'lov/2013-06-21-100' (of the first target for amend_*). */
  targetRefid: string | null;
  /** '§5-7', '§13/ledd/1' … (of the first target for amend_*); null when the whole document. */
  targetPart: string | null;
  /** Every target named by `raw` (one entry except for multi-target amend_* attributes; a move is
   * written 'from;;to'). */
  targets: string[];
}

export interface ExtractedDocument {
  /** dokid, e.g. 'NL/lov/1999-03-26-17' */
  documentId: string;
  refid: string;
  legacyId: string | null;
  /** html@lang */
  language: string | null;
  title: string;
  shortTitle: string | null;
  ministries: string[];
  subunits: string[];
  dateInForceRaw: string | null;
  /** ISO dates found in dateInForceRaw, in order. */
  dateInForce: string[];
  lastChangeInForce: string | null;
  /** Raw text, e.g. 'lov/2024-06-25-53 fra 2024-07-01'. */
  lastChangedBy: string | null;
  changesDocuments: string[];
  basedOn: string[];
  legalAreas: string[];
  /** 'YYYY-MM-DD HH:mm' as in dateOfPublication. */
  publishedAt: string | null;
  journalNumber: string | null;
  lastUpdated: string | null;
  isAmendment: boolean;
  sections: ExtractedSection[];
  chunks: ExtractedChunk[];
  crossReferences: ExtractedCrossReference[];
}

export interface ExtractOptions {
  /** Upper bound for chunk text length in UTF-16 code units. Default 2048. */
  maxChunkChars?: number;
}
