import { TextSink } from './text-normaliser.ts';
import type { CrossReferenceKind, SectionKind } from './types.ts';

export type UnitKind = SectionKind | 'root';

/** A section (unit) while it is being built. */
export class Unit {
  key = '';
  /** The key attribute as written (data-name, or the data-lovdata-URL segment of a chapter). */
  dataName: string | null = null;
  /** Ids of stripped EUR-Lex consolidation markers (►M3 …). */
  readonly markers = new Set<string>();
  number: string | null = null;
  title: string | null = null;
  /** Own heading as shown in heading paths. */
  heading = '';
  headingPath = '';
  repealed = false;
  text = '';
  notesText: string | null = null;
  textHash = '';
  chunkTexts: string[] = [];
  /** Empty text block: not emitted. */
  dropped = false;
  /** The § header / chapter heading has been read (or can no longer come). */
  headerDone = false;
  numberParts: string[] = [];
  titleParts: string[] = [];
  headingParts: string[] = [];
  notes: TextSink | null = null;
  /** Chapters and the document root: the text block currently collecting loose text. */
  openBlock: Unit | null = null;
  readonly sink: TextSink | null;

  constructor(
    readonly kind: UnitKind,
    /** Enclosing unit; null at top level. */
    readonly parent: Unit | null,
  ) {
    this.sink =
      kind === 'article' || kind === 'future_article' || kind === 'text_block' ? new TextSink() : null;
  }
}

/** A cross-reference found in the body, resolved to its unit's final key at assembly. */
export interface PendingReference {
  unit: Unit | null;
  kind: CrossReferenceKind;
  raw: string;
  targets: string[];
  first: string;
}
