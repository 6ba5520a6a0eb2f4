import { createHash } from 'node:crypto';
import { SaxesParser, type SaxesTagPlain } from 'saxes';
import { DEFAULT_MAX_CHUNK_CHARS, estimateTokens, splitIntoChunks } from './chunker.ts';
import {
  AMEND_ATTRIBUTES,
  amendTargets,
  isDocumentHref,
  refsInText,
  splitTarget,
} from './cross-references.ts';
import { MalformedDocumentError } from './errors.ts';
import { HeaderFieldCollector } from './header-fields.ts';
import { articleHeading, isRepealedTitle, splitChapterHeading } from './headings.ts';
import { textSlices } from './input-slices.ts';
import type { ExtractInput } from './input-slices.ts';
import { TextSink, detach, hasVisibleText, joinNormalised, normaliseLine } from './text-normaliser.ts';
import type {
  CrossReferenceKind,
  ExtractOptions,
  ExtractedChunk,
  ExtractedCrossReference,
  ExtractedDocument,
  ExtractedSection,
  SectionKind,
} from './types.ts';

/** The longest dokid (= document id) accepted; longer ones are refused as malformed. */
export const MAX_DOKID_LENGTH = 200;
/**
 * Stream one Lovdata XML document through a strict XML parser (saxes: sax's event model at about
 * twice its speed; see bench/parse) and return its document fields, sections (units), chunks and
 * cross-references. The input is fed in slices of at most 64 KiB and
 * the event loop gets a turn between slices, so a very large document never blocks it for long.
 * Throws MalformedDocumentError for anything that is not a well-formed, entity-free UTF-8
 * document with a dokid.
 */
export async function extractDocument(
  input: ExtractInput,
  opts: ExtractOptions = {},
): Promise<ExtractedDocument> {
  const maxChunkChars = opts.maxChunkChars ?? DEFAULT_MAX_CHUNK_CHARS;
  if (!Number.isInteger(maxChunkChars) || maxChunkChars < 1) {
    throw new RangeError(`maxChunkChars must be a positive integer, got ${maxChunkChars}`);
  }
  // The tokenizer's line/column bookkeeping costs time, so the document is parsed without it;
  // only a syntax error triggers a second, position-tracking pass over the same input to report
  // where the error is. A Buffer or string can simply be read again; a stream's chunks are kept
  // (references, no copy) up to REPLAY_LIMIT bytes for that purpose.
  const recorder = typeof input === 'string' || input instanceof Uint8Array ? null : new ChunkRecorder(input);
  try {
    return await runExtraction(recorder ?? input, maxChunkChars, false);
  } catch (err) {
    if (err instanceof MalformedDocumentError && unlocated.has(err)) {
      const replay = recorder === null ? input : recorder.replay();
      if (replay !== null) {
        try {
          await runExtraction(replay, maxChunkChars, true);
        } catch (located) {
          if (located instanceof MalformedDocumentError) throw located;
        }
      }
    }
    throw err;
  }
}

/** Input bytes kept for a position-tracking replay after a syntax error in a stream. */
const REPLAY_LIMIT = 64 * 1024 * 1024;

type InputChunk = Buffer | Uint8Array | string;

/** Passes a stream's chunks through and remembers them (up to REPLAY_LIMIT bytes). */
class ChunkRecorder implements AsyncIterable<InputChunk> {
  private chunks: InputChunk[] | null = [];
  private size = 0;

  constructor(private readonly source: AsyncIterable<InputChunk> | NodeJS.ReadableStream) {}

  async *[Symbol.asyncIterator](): AsyncGenerator<InputChunk, void, undefined> {
    for await (const chunk of this.source as AsyncIterable<InputChunk>) {
      if (this.chunks !== null) {
        this.size += typeof chunk === 'string' || chunk instanceof Uint8Array ? chunk.length : 0;
        if (this.size <= REPLAY_LIMIT) this.chunks.push(chunk);
        else this.chunks = null;
      }
      yield chunk;
    }
  }

  /** The recorded chunks as a new input, or null when the stream was too large to keep. */
  replay(): AsyncIterable<InputChunk> | null {
    const chunks = this.chunks;
    if (chunks === null) return null;
    return (async function* () {
      yield* chunks;
    })();
  }
}

async function runExtraction(
  input: ExtractInput,
  maxChunkChars: number,
  trackPosition: boolean,
): Promise<ExtractedDocument> {
  const extractor = new DocumentExtractor(maxChunkChars, trackPosition);
  for await (const slice of textSlices(input)) {
    extractor.write(slice);
    await yieldToEventLoop();
  }
  extractor.close();
  return extractor.result();
}

/** XML syntax errors raised while the tokenizer did not track positions (no line/column yet). */
const unlocated = new WeakSet<MalformedDocumentError>();

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

// ---------------------------------------------------------------------------------------------
// Element roles: decided once when an element opens, acted on again when it closes.

const R_INLINE = 0;
const R_BLOCK = 1;
const R_SKIP = 2;
const R_HEADER = 3;
const R_DD = 4;
const R_DD_LI = 5;
const R_MAIN = 6;
const R_H1 = 7;
const R_SECTION = 8;
const R_SECTION_HEADING = 9;
const R_ARTICLE = 10;
const R_FUTURE = 11;
const R_ART_HEADER = 12;
const R_ART_NUMBER = 13;
const R_ART_TITLE = 14;
const R_NOTES = 15;
const R_CHANGE = 16;
const R_LI = 17;
const R_TABLE = 18;
const R_TR = 19;
const R_CELL = 20;
const R_BR = 21;
const R_SPACE_AFTER = 22;

/** Roles of body elements by class (the class attribute normally holds exactly one class). */
const ARTICLE_CLASS_ROLES = new Map<string, number>([
  ['legalArticle', R_ARTICLE],
  ['futureLegalArticle', R_FUTURE],
  ['changesToParent', R_NOTES],
  ['change', R_CHANGE],
  ['footnote', R_SKIP],
]);
const SPAN_CLASS_ROLES = new Map<string, number>([
  ['legalArticleValue', R_ART_NUMBER],
  ['legalArticleTitle', R_ART_TITLE],
  ['futureLegalArticleHeader', R_ART_HEADER],
  ['futuretitle', R_BLOCK],
  ['data-marginOriginalId', R_SPACE_AFTER],
]);
const BLOCK_ELEMENTS = new Set([
  'p',
  'div',
  'ul',
  'ol',
  'dl',
  'dt',
  'dd',
  'thead',
  'tbody',
  'tfoot',
  'caption',
  'blockquote',
  'pre',
  'figure',
  'figcaption',
  'hr',
  'nav',
  'aside',
  'header',
  'footer',
  'address',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
]);
/** Whitespace-only text containing a line break: see text(). */
const FORMATTING_ONLY = /^[ \t\r\n]*\n[ \t\r\n]*$/;
const HEADING_ELEMENTS = new Set(['h2', 'h3', 'h4', 'h5', 'h6']);

/** Class lookup that also copes with several space-separated classes. */
function classRole(roles: ReadonlyMap<string, number>, cls: string | undefined): number | undefined {
  if (cls === undefined) return undefined;
  const direct = roles.get(cls);
  if (direct !== undefined || !cls.includes(' ')) return direct;
  for (const token of cls.split(/\s+/)) {
    const role = roles.get(token);
    if (role !== undefined) return role;
  }
  return undefined;
}

function hasClass(cls: string | undefined, name: string): boolean {
  if (cls === undefined) return false;
  if (cls === name) return true;
  return cls.includes(' ') && cls.split(/\s+/).includes(name);
}

function lastSegment(url: string | undefined): string | null {
  if (url === undefined || url === '') return null;
  const seg = url.slice(url.lastIndexOf('/') + 1);
  return seg === '' ? null : seg;
}

const AMENDMENT_TITLE = /^(?:lov|forskrift|vedtak|kunngjøring|instruks|forordning)\s+om\s+endring/i;
const AMENDMENT_SHORT_TITLE = /^endrings(?:lov|forskrift)/i;

// ---------------------------------------------------------------------------------------------

type UnitKind = SectionKind | 'root';

/** A section (unit) while it is being built. */
class Unit {
  key = '';
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

interface PendingReference {
  unit: Unit | null;
  kind: CrossReferenceKind;
  raw: string;
  targets: string[];
  first: string;
}

class DocumentExtractor {
  private readonly parser: SaxesParser<{ xmlns: false; position: boolean }>;
  private readonly header = new HeaderFieldCollector();
  private readonly root = new Unit('root', null);
  private readonly stack: Unit[] = [this.root];
  private top: Unit = this.root;
  private readonly units: Unit[] = [];
  private readonly keys = new Map<string, Unit>();
  private readonly suffixes = new Map<string, number>();
  private readonly refs: PendingReference[] = [];
  private readonly roles: number[] = [];

  private skipDepth = 0;
  /** Parts of the heading / § number / § title / h1 being captured, or null. */
  private capture: string[] | null = null;
  private headingUnit: Unit | null = null;
  private artHeaderDepth = 0;
  private notesSink: TextSink | null = null;
  private cellDepth = 0;
  private readonly cellIndex: number[] = [];
  private inHeader = false;
  private ddCaptured = false;
  private inMain = false;
  private rootSeen = false;
  private rootClosed = false;
  private language: string | null = null;
  private readonly h1Parts: string[] = [];
  private articleCount = 0;
  private changeCount = 0;
  private unitCounter = 0;

  constructor(
    private readonly maxChunkChars: number,
    private readonly trackPosition: boolean,
  ) {
    // Plain XML 1.0 without namespace processing; saxes knows only the five predefined entities
    // and character references, so any other entity reference is an error, never an expansion.
    const parser = new SaxesParser({ xmlns: false, position: trackPosition });
    parser.on('opentag', (tag) => this.open(tag));
    parser.on('closetag', () => this.closeElement());
    parser.on('text', (t) => this.text(t));
    parser.on('cdata', (t) => this.text(t));
    parser.on('doctype', (doctype) => this.doctype(doctype));
    parser.on('error', (err) => {
      // saxes prefixes "line:column: " when it tracks positions; ours are added by syntaxError.
      const reason = (err.message.split('\n', 1)[0] ?? 'parse error').replace(/^\d+:\d+: /, '');
      if (!this.rootSeen && /must contain a root element/.test(reason)) {
        throw new MalformedDocumentError('empty document: no root element', undefined, { cause: err });
      }
      throw this.syntaxError(`not well-formed XML: ${reason}`, err);
    });
    this.parser = parser;
  }

  /** An error at the parser's current position (line/column when positions are tracked). */
  private syntaxError(message: string, cause?: unknown): MalformedDocumentError {
    if (this.trackPosition) {
      const position = { line: this.parser.line, column: this.parser.column };
      return new MalformedDocumentError(message, position, { cause });
    }
    const err = new MalformedDocumentError(message, undefined, { cause });
    unlocated.add(err);
    return err;
  }

  write(slice: string): void {
    this.parser.write(slice);
  }

  /** A document without a root element fails here, in saxes' end check (see the error handler). */
  close(): void {
    this.parser.close();
  }

  // --- XML events ----------------------------------------------------------------------------

  private doctype(doctype: string): void {
    // Refuse any internal subset or entity declaration instead of expanding it (entity-expansion
    // attacks); `<!DOCTYPE html>` is what every Lovdata file has.
    if (doctype.includes('[') || /<!ENTITY/i.test(doctype)) {
      throw this.syntaxError('DOCTYPE with an internal subset / entity declarations is refused');
    }
  }

  private open(tag: SaxesTagPlain): void {
    const roles = this.roles;
    if (this.skipDepth > 0) {
      this.skipDepth++;
      roles.push(R_SKIP);
      return;
    }
    const name = tag.name;
    const attrs = tag.attributes;
    if (roles.length === 0) {
      if (this.rootClosed) {
        throw this.syntaxError('not well-formed XML: more than one root element');
      }
      this.rootSeen = true;
      this.language = attrs['lang'] ?? attrs['xml:lang'] ?? null;
      roles.push(R_INLINE);
      return;
    }
    if (this.inHeader) {
      roles.push(this.openInHeader(name, attrs['class']));
      return;
    }
    if (!this.inMain) {
      roles.push(this.openOutsideMain(name));
      return;
    }
    const role = this.bodyRole(name, attrs['class']);
    roles.push(role);
    switch (role) {
      case R_INLINE:
        if (name === 'a') this.link(attrs['href']);
        else if (name === 'img') this.image(attrs['alt']);
        return;
      case R_BLOCK:
        this.boundary();
        return;
      case R_SKIP:
        this.skipDepth = 1;
        return;
      case R_SECTION:
        this.openUnit('chapter', attrs);
        return;
      case R_ARTICLE:
        this.articleCount++;
        this.openUnit('article', attrs);
        return;
      case R_FUTURE:
        this.openUnit('future_article', attrs);
        return;
      case R_SECTION_HEADING:
        this.headingUnit = this.top;
        this.capture = this.top.headingParts;
        if (attrs['data-repealeddate']) this.top.repealed = true;
        return;
      case R_ART_HEADER:
        this.artHeaderDepth++;
        return;
      case R_ART_NUMBER:
        this.capture = this.top.numberParts;
        return;
      case R_ART_TITLE:
        this.capture = this.top.titleParts;
        return;
      case R_H1:
        this.capture = this.h1Parts;
        return;
      case R_NOTES:
        this.openNotes();
        return;
      case R_CHANGE:
        this.boundary();
        this.change(attrs);
        return;
      case R_LI:
        this.boundary();
        this.listMarker(attrs['data-li-identifier'] ?? attrs['data-name']);
        return;
      case R_TABLE:
        this.boundary();
        this.cellIndex.push(0);
        return;
      case R_TR:
        this.boundary();
        if (this.cellIndex.length > 0) this.cellIndex[this.cellIndex.length - 1] = 0;
        return;
      case R_CELL: {
        const last = this.cellIndex.length - 1;
        const index = this.cellIndex[last] ?? 0;
        if (index > 0) this.text(' | ');
        if (last >= 0) this.cellIndex[last] = index + 1;
        this.cellDepth++;
        return;
      }
      case R_BR:
        if (this.capture !== null) this.capture.push('\n');
        else this.boundary();
        return;
      default:
        return;
    }
  }

  private openInHeader(name: string, cls: string | undefined): number {
    switch (name) {
      case 'dd':
        if (this.header.openDd(cls)) {
          this.ddCaptured = true;
          return R_DD;
        }
        return this.startSkip();
      case 'dt':
        return this.startSkip();
      case 'li':
        if (this.ddCaptured) this.header.openLi();
        return R_DD_LI;
      case 'br':
        if (this.ddCaptured) this.header.text(' ');
        return R_INLINE;
      default:
        return R_INLINE;
    }
  }

  /** Skip an element's whole subtree (header parts that are not read, the html head). */
  private startSkip(): number {
    this.skipDepth = 1;
    return R_SKIP;
  }

  private openOutsideMain(name: string): number {
    switch (name) {
      case 'head':
        return this.startSkip();
      case 'header':
        this.inHeader = true;
        return R_HEADER;
      case 'main':
        this.inMain = true;
        return R_MAIN;
      default:
        return R_INLINE;
    }
  }

  private bodyRole(name: string, cls: string | undefined): number {
    const top = this.top;
    // A chapter's heading must be its first child element.
    if (!top.headerDone && top.kind === 'chapter' && this.headingUnit === null) {
      top.headerDone = true;
      if (HEADING_ELEMENTS.has(name) && !hasClass(cls, 'legalArticleHeader')) return R_SECTION_HEADING;
    }
    switch (name) {
      case 'article': {
        const role = classRole(ARTICLE_CLASS_ROLES, cls);
        if (role === R_NOTES && this.notesSink !== null) return R_BLOCK;
        return role ?? R_BLOCK;
      }
      case 'section':
        return hasClass(cls, 'section') ? R_SECTION : R_BLOCK;
      case 'span': {
        const role = classRole(SPAN_CLASS_ROLES, cls);
        if (role === R_ART_HEADER) return this.canOpenArticleHeader() ? R_ART_HEADER : R_INLINE;
        if (role === R_ART_NUMBER || role === R_ART_TITLE) {
          return this.artHeaderDepth > 0 && this.capture === null ? role : R_INLINE;
        }
        return role ?? R_INLINE;
      }
      case 'h2':
      case 'h3':
      case 'h4':
      case 'h5':
      case 'h6':
        if (hasClass(cls, 'legalArticleHeader') && this.canOpenArticleHeader()) return R_ART_HEADER;
        return R_BLOCK;
      case 'h1':
        return this.capture === null && this.h1Parts.length === 0 ? R_H1 : R_BLOCK;
      case 'sup':
        return hasClass(cls, 'footnotereference') ? R_SKIP : R_INLINE;
      case 'footer':
        return hasClass(cls, 'footnotes') ? R_SKIP : R_BLOCK;
      case 'li':
        return R_LI;
      case 'table':
        return R_TABLE;
      case 'tr':
        return R_TR;
      case 'td':
      case 'th':
        return R_CELL;
      case 'br':
        return R_BR;
      case 'script':
      case 'style':
      case 'template':
        return R_SKIP;
      default:
        return BLOCK_ELEMENTS.has(name) ? R_BLOCK : R_INLINE;
    }
  }

  private canOpenArticleHeader(): boolean {
    const top = this.top;
    return (
      (top.kind === 'article' || top.kind === 'future_article') &&
      !top.headerDone &&
      this.artHeaderDepth === 0 &&
      this.capture === null
    );
  }

  private closeElement(): void {
    const role = this.roles.pop();
    if (this.roles.length === 0) this.rootClosed = true;
    switch (role) {
      case R_INLINE:
        return;
      case R_SKIP:
        this.skipDepth--;
        return;
      case R_BLOCK:
      case R_CHANGE:
      case R_TR:
        this.boundary();
        return;
      case R_SECTION:
      case R_ARTICLE:
      case R_FUTURE:
        this.closeUnit();
        return;
      case R_SECTION_HEADING: {
        const unit = this.headingUnit;
        this.capture = null;
        this.headingUnit = null;
        if (unit !== null) unit.headerDone = true;
        return;
      }
      case R_ART_HEADER:
        this.artHeaderDepth--;
        this.top.headerDone = true;
        return;
      case R_ART_NUMBER:
      case R_ART_TITLE:
      case R_H1:
        this.capture = null;
        return;
      case R_NOTES:
        this.notesSink?.newline();
        this.notesSink = null;
        return;
      case R_LI: {
        this.boundary();
        this.existingSink()?.clearPrefix();
        return;
      }
      case R_TABLE:
        this.cellIndex.pop();
        this.boundary();
        return;
      case R_CELL:
        this.cellDepth--;
        return;
      case R_SPACE_AFTER:
        this.text(' ');
        return;
      case R_HEADER:
        this.inHeader = false;
        return;
      case R_DD:
        this.header.closeDd();
        this.ddCaptured = false;
        return;
      case R_DD_LI:
        if (this.ddCaptured) this.header.closeLi();
        return;
      case R_MAIN:
        this.endTextBlock(this.root);
        this.inMain = false;
        return;
      default:
        return;
    }
  }

  private text(t: string): void {
    if (this.skipDepth > 0) return;
    // Whitespace-only text with a line break is indentation between elements (a pretty-printed
    // serialisation): never text. Lovdata's own files have no line breaks at all.
    if (t.length < 512 && t.includes('\n') && FORMATTING_ONLY.test(t)) return;
    if (this.capture !== null) {
      this.capture.push(t);
      return;
    }
    if (this.inHeader) {
      if (this.ddCaptured) this.header.text(t);
      return;
    }
    if (!this.inMain || this.artHeaderDepth > 0) return;
    if (this.notesSink !== null) {
      this.notesSink.text(t);
      return;
    }
    this.contentSink(t)?.text(t);
  }

  // --- text routing ----------------------------------------------------------------------------

  /** Sink for body text at the current position; loose text (directly in a chapter or in main)
   * goes to the container's open text block, which is created on the first visible text. */
  private contentSink(t: string): TextSink | null {
    const unit = this.top;
    if (unit.sink !== null) return unit.sink;
    const block = unit.openBlock;
    if (block !== null) return block.sink;
    if (!hasVisibleText(t)) return null;
    return this.openTextBlock(unit).sink;
  }

  private existingSink(): TextSink | null {
    if (this.notesSink !== null) return this.notesSink;
    const unit = this.top;
    return unit.sink ?? unit.openBlock?.sink ?? null;
  }

  /** Block boundary: a new line (a space inside a table cell). */
  private boundary(): void {
    if (this.skipDepth > 0 || this.capture !== null || !this.inMain || this.artHeaderDepth > 0) return;
    const sink = this.existingSink();
    if (sink === null) return;
    if (this.cellDepth > 0) sink.text(' ');
    else sink.newline();
  }

  private listMarker(marker: string | undefined): void {
    if (marker === undefined || marker === '') return;
    if (this.capture !== null || this.cellDepth > 0) {
      this.text(`${marker} `);
      return;
    }
    if (this.skipDepth > 0 || this.artHeaderDepth > 0) return;
    const sink = this.notesSink ?? this.contentSink(marker);
    sink?.setPrefix(marker);
  }

  private image(alt: string | undefined): void {
    if (alt === undefined) return;
    const label = normaliseLine(alt);
    if (label !== '') this.text(` [${label}] `);
  }

  private openNotes(): void {
    const unit = this.top;
    // Notes directly in main belong to no unit: collect and discard them.
    this.notesSink = unit === this.root ? new TextSink() : (unit.notes ??= new TextSink());
    this.notesSink.newline();
  }

  // --- units -----------------------------------------------------------------------------------

  private openUnit(kind: SectionKind, attrs: Record<string, string>): void {
    const parent = this.top;
    this.endTextBlock(parent);
    const unit = new Unit(kind, parent === this.root ? null : parent);
    unit.key = this.assignKey(kind, unit, attrs);
    if (attrs['data-repealeddate']) unit.repealed = true;
    this.units.push(unit);
    this.stack.push(unit);
    this.top = unit;
  }

  private closeUnit(): void {
    const unit = this.stack.pop();
    if (unit === undefined || unit === this.root) throw new Error('extractor: unit stack underflow');
    this.top = this.stack[this.stack.length - 1] as Unit;
    this.endTextBlock(unit);
    this.finishUnit(unit);
  }

  private openTextBlock(container: Unit): Unit {
    const block = new Unit('text_block', container === this.root ? null : container);
    container.openBlock = block;
    this.units.push(block);
    return block;
  }

  private endTextBlock(container: Unit): void {
    const block = container.openBlock;
    if (block === null) return;
    container.openBlock = null;
    this.finishUnit(block);
    if (block.text === '') block.dropped = true;
  }

  /** Keys: see ExtractedSection.key. */
  private assignKey(kind: SectionKind, unit: Unit, attrs: Record<string, string>): string {
    const n = this.unitCounter++;
    const keys = this.keys;
    let key: string;
    if (kind === 'chapter') {
      key = this.uniqueKey(lastSegment(attrs['data-lovdata-URL']) ?? (attrs['data-name'] || `section-${n}`));
    } else if (kind === 'article') {
      const base = attrs['data-name'] || lastSegment(attrs['data-lovdata-URL']) || `article-${n}`;
      const holder = keys.get(base);
      if (holder !== undefined && holder.kind === 'future_article') {
        // A current § takes its plain name; the not-yet-in-force text moves aside.
        holder.key = this.uniqueKey(`future:${base}`);
        keys.set(holder.key, holder);
        key = base;
      } else {
        key = this.uniqueKey(base);
      }
    } else {
      const base = attrs['data-name'] || `future-${n}`;
      const holder = keys.get(base);
      key = this.uniqueKey(holder !== undefined && holder.kind === 'article' ? `future:${base}` : base);
    }
    keys.set(key, unit);
    return key;
  }

  /** `base`, or `base~2`, `base~3` … when taken (a per-base counter keeps this O(1)). */
  private uniqueKey(base: string): string {
    if (!this.keys.has(base)) return base;
    for (let i = this.suffixes.get(base) ?? 2; ; i++) {
      const candidate = `${base}~${i}`;
      if (!this.keys.has(candidate)) {
        this.suffixes.set(base, i + 1);
        return candidate;
      }
    }
  }

  /** Freeze a unit's number/title/heading/text/notes, hash it and split its chunk texts. */
  private finishUnit(unit: Unit): void {
    if (unit.kind === 'chapter') {
      const lines = unit.headingParts.length === 0 ? [] : headingLines(unit.headingParts);
      const { number, title } = splitChapterHeading(lines);
      unit.number = number;
      unit.title = title;
      unit.heading = lines.join(' ');
      if (isRepealedTitle(unit.heading)) unit.repealed = true;
    } else if (unit.kind !== 'text_block') {
      unit.number = joinNormalised(unit.numberParts);
      unit.title = joinNormalised(unit.titleParts);
      unit.heading = articleHeading(unit.number, unit.title);
      if (isRepealedTitle(unit.title)) unit.repealed = true;
    }
    unit.numberParts = unit.titleParts = unit.headingParts = [];
    unit.text = unit.sink === null ? '' : unit.sink.finish();
    if (unit.notes !== null) {
      const notes = unit.notes.finish();
      unit.notesText = notes === '' ? null : notes;
      unit.notes = null;
    }
    // Two updates: the (possibly large) text is hashed without building a concatenated copy.
    unit.textHash = createHash('sha1')
      .update(`${unit.number ?? ''}\n${unit.title ?? ''}\n`)
      .update(unit.text)
      .digest('hex');
    unit.chunkTexts = splitIntoChunks(unit.text, this.maxChunkChars);
  }

  // --- cross-references ------------------------------------------------------------------------

  /** The unit a reference at the current position belongs to. */
  private referenceUnit(): Unit | null {
    if (this.headingUnit !== null) return this.headingUnit;
    if (this.capture !== null && this.artHeaderDepth === 0) return null; // the h1
    const unit = this.top;
    if (unit.sink !== null) return unit;
    if (this.notesSink !== null) return unit === this.root ? null : unit;
    return unit.openBlock ?? this.openTextBlock(unit);
  }

  private link(href: string | undefined): void {
    if (href === undefined || this.skipDepth > 0) return;
    const raw = href.trim();
    if (!isDocumentHref(raw)) return;
    this.refs.push({ unit: this.referenceUnit(), kind: 'link', raw, targets: [raw], first: raw });
  }

  private change(attrs: Record<string, string>): void {
    this.changeCount++;
    for (const [attribute, kind] of AMEND_ATTRIBUTES) {
      const value = attrs[attribute];
      if (value === undefined) continue;
      const { raw, targets, first } = amendTargets(value);
      if (first === null) continue;
      this.refs.push({ unit: this.referenceUnit(), kind, raw, targets, first });
    }
  }

  // --- result ----------------------------------------------------------------------------------

  async result(): Promise<ExtractedDocument> {
    const h = this.header.build();
    if (h.dokid === null) throw new MalformedDocumentError('document has no dokid');
    // Real dokids are ~20-40 characters (NL/lov/1999-03-26-17); a 100,000-character one is an attack.
    if (h.dokid.length > MAX_DOKID_LENGTH)
      throw new MalformedDocumentError(
        `dokid is ${h.dokid.length} characters long, more than ${MAX_DOKID_LENGTH} (starts ${JSON.stringify(h.dokid.slice(0, 40))})`,
      );
    const documentId = h.dokid;
    const refid = h.refid ?? documentId.slice(documentId.indexOf('/') + 1);
    const title = h.title ?? joinNormalised(this.h1Parts) ?? '';

    const sections: ExtractedSection[] = [];
    const chunks: ExtractedChunk[] = [];
    const blockCounts = new Map<Unit | null, number>();
    let done = 0;
    for (const unit of this.units) {
      if (unit.dropped) continue;
      const parent = unit.parent;
      const parentKey = parent === null ? null : parent.key;
      if (unit.kind === 'text_block') {
        const k = blockCounts.get(parent) ?? 0;
        blockCounts.set(parent, k + 1);
        unit.key = `${parentKey ?? 'main'}/text-${k}`;
      }
      const parentPath = parent === null ? '' : parent.headingPath;
      unit.headingPath =
        parentPath === ''
          ? unit.heading
          : unit.heading === ''
            ? parentPath
            : `${parentPath} > ${unit.heading}`;
      sections.push({
        key: unit.key,
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
    for (const ref of this.refs) {
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
      (this.articleCount === 0 && this.changeCount > 0);

    return {
      documentId,
      refid,
      legacyId: h.legacyId,
      language: this.language,
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
}

/** Heading parts (with '\n' for each <br/>) -> normalised, non-empty lines. */
function headingLines(parts: readonly string[]): string[] {
  const out: string[] = [];
  for (const line of parts.join('').split('\n')) {
    const normalised = normaliseLine(line);
    if (normalised !== '') out.push(detach(normalised));
  }
  return out;
}
