import { isUsableRef, isoDatesIn } from './cross-references.ts';
import { joinNormalised } from './text-normaliser.ts';

/** `dd` classes of `header.documentHeader > dl.data-document-key-info` read as one text value. */
const TEXT_FIELDS = new Set([
  'dokid',
  'refid',
  'legacyID',
  'title',
  'titleShort',
  'dateInForce',
  'lastChangeInForce',
  'lastChangedBy',
  'dateOfPublication',
  'journalNumber',
  'lastupdated',
]);
/** `dd` classes read as a list of `li` texts. */
const LIST_FIELDS = new Set(['ministry', 'subunit', 'changesToDocuments', 'basedOn', 'legalArea']);

export interface HeaderValues {
  dokid: string | null;
  refid: string | null;
  legacyId: string | null;
  title: string | null;
  shortTitle: string | null;
  ministries: string[];
  subunits: string[];
  dateInForceRaw: string | null;
  dateInForce: string[];
  lastChangeInForce: string | null;
  lastChangedBy: string | null;
  changesDocuments: string[];
  basedOn: string[];
  legalAreas: string[];
  publishedAt: string | null;
  journalNumber: string | null;
  lastUpdated: string | null;
}

/**
 * Collects the document key info. Keys on the dt/dd CLASS, never on the (Bokmål or Nynorsk) label.
 * The extractor calls openDd/openLi/text/closeLi/closeDd while it is inside the header.
 */
export class HeaderFieldCollector {
  private readonly texts = new Map<string, string>();
  private readonly lists = new Map<string, string[]>();
  private field: string | null = null;
  private parts: string[] = [];
  private liParts: string[] | null = null;
  private items: string[] = [];

  /** Returns true when this dd is captured (its text must be passed to text()). */
  openDd(cls: string | undefined): boolean {
    if (cls === undefined || (!TEXT_FIELDS.has(cls) && !LIST_FIELDS.has(cls))) return false;
    this.field = cls;
    this.parts = [];
    this.items = [];
    this.liParts = null;
    return true;
  }

  openLi(): void {
    if (this.field !== null) this.liParts = [];
  }

  closeLi(): void {
    if (this.liParts === null) return;
    const item = joinNormalised(this.liParts);
    this.liParts = null;
    if (item !== null) {
      this.items.push(item);
      this.parts.push(' ', item, ' ');
    }
  }

  text(s: string): void {
    if (this.liParts !== null) this.liParts.push(s);
    else if (this.field !== null) this.parts.push(s);
  }

  closeDd(): void {
    const field = this.field;
    if (field === null) return;
    this.field = null;
    if (LIST_FIELDS.has(field)) {
      if (!this.lists.has(field)) this.lists.set(field, this.items);
    } else if (!this.texts.has(field)) {
      const value = joinNormalised(this.parts);
      if (value !== null) this.texts.set(field, value);
    }
    this.parts = [];
    this.items = [];
  }

  build(): HeaderValues {
    const text = (k: string): string | null => this.texts.get(k) ?? null;
    const list = (k: string): string[] => this.lists.get(k) ?? [];
    const refs = (k: string): string[] => list(k).filter(isUsableRef);
    const dateInForceRaw = text('dateInForce');
    return {
      dokid: text('dokid'),
      refid: text('refid'),
      legacyId: text('legacyID'),
      title: text('title'),
      shortTitle: text('titleShort'),
      ministries: list('ministry'),
      subunits: list('subunit'),
      dateInForceRaw,
      dateInForce: dateInForceRaw === null ? [] : isoDatesIn(dateInForceRaw),
      lastChangeInForce: text('lastChangeInForce'),
      lastChangedBy: text('lastChangedBy'),
      changesDocuments: refs('changesToDocuments'),
      basedOn: refs('basedOn'),
      legalAreas: list('legalArea'),
      publishedAt: text('dateOfPublication'),
      journalNumber: text('journalNumber'),
      lastUpdated: text('lastupdated'),
    };
  }
}
