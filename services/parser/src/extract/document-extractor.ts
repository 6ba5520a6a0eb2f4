import { createHash } from 'node:crypto';
import { SaxesParser, type SaxesTagPlain } from 'saxes';
import { DEFAULT_MAX_CHUNK_CHARS, splitIntoChunks } from './chunker.ts';
import { AMEND_ATTRIBUTES, amendTargets, isDocumentHref } from './cross-references.ts';
import { DocumentLimitError, MalformedDocumentError } from './errors.ts';
import { HeaderFieldCollector } from './header-fields.ts';
import { articleHeading, isRepealedTitle, splitChapterHeading } from './headings.ts';
import { textSlices } from './input-slices.ts';
import type { ExtractInput } from './input-slices.ts';
import { KeyAssigner } from './key-assignment.ts';
import { MAX_SECTION_DEPTH } from './limits.ts';
import { assembleResult, yieldToEventLoop, type CollectedDocument } from './result-assembly.ts';
import {
  TextSink,
  cleanLine,
  detach,
  hasVisibleText,
  joinNormalised,
  normaliseLine,
} from './text-normaliser.ts';
import type { ExtractOptions, ExtractedDocument, SectionKind } from './types.ts';
import { Unit, type PendingReference } from './unit.ts';

/**
 * Parse one Lovdata XML document (a string, or its UTF-8 bytes, decoded strictly) with a strict
 * XML parser (saxes: sax's event model at about twice its speed; see bench/parse) and return its
 * document fields, sections (units), chunks and cross-references. The input is fed in slices of at
 * most 64 KiB and the event loop gets a turn between slices, so a very large document never blocks
 * it for long. Throws MalformedDocumentError for anything that is not a well-formed, entity-free
 * UTF-8 document with a dokid (DocumentLimitError, a subclass, beyond the limits in limits.ts).
 */
export async function extractDocument(
  input: ExtractInput,
  opts: ExtractOptions = {},
): Promise<ExtractedDocument> {
  const maxChunkChars = opts.maxChunkChars ?? DEFAULT_MAX_CHUNK_CHARS;
  if (!Number.isInteger(maxChunkChars) || maxChunkChars < 1) {
    throw new RangeError(`maxChunkChars must be a positive integer, got ${maxChunkChars}`);
  }
  // The tokenizer's line/column bookkeeping costs time, so the document is parsed without it; only
  // a syntax error triggers a second, position-tracking pass over the same input to say where.
  try {
    return await runExtraction(input, maxChunkChars, false);
  } catch (err) {
    if (err instanceof MalformedDocumentError && unlocated.has(err)) {
      try {
        await runExtraction(input, maxChunkChars, true);
      } catch (located) {
        if (located instanceof MalformedDocumentError) throw located;
      }
    }
    throw err;
  }
}

async function runExtraction(
  input: ExtractInput,
  maxChunkChars: number,
  trackPosition: boolean,
): Promise<ExtractedDocument> {
  const extractor = new DocumentExtractor(maxChunkChars, trackPosition);
  for (const slice of textSlices(input)) {
    extractor.write(slice);
    await yieldToEventLoop();
  }
  extractor.close();
  return assembleResult(extractor.collected());
}

/** XML syntax errors raised while the tokenizer did not track positions (no line/column yet). */
const unlocated = new WeakSet<MalformedDocumentError>();

// ---------------------------------------------------------------------------------------------
// Element roles: decided once when an element opens, acted on again when it closes.

/** What an element is to the extractor. */
type Role =
  | 'inline'
  | 'block'
  | 'skip'
  | 'header'
  | 'dd'
  | 'ddItem'
  | 'main'
  | 'h1'
  | 'section'
  | 'sectionHeading'
  | 'article'
  | 'futureArticle'
  | 'articleHeader'
  | 'articleNumber'
  | 'articleTitle'
  | 'notes'
  | 'change'
  | 'listItem'
  | 'table'
  | 'tableRow'
  | 'tableCell'
  | 'lineBreak'
  | 'spaceAfter';

/** Roles of body elements by class (the class attribute normally holds exactly one class). */
const ARTICLE_CLASS_ROLES = new Map<string, Role>([
  ['legalArticle', 'article'],
  ['futureLegalArticle', 'futureArticle'],
  ['changesToParent', 'notes'],
  ['change', 'change'],
  ['footnote', 'skip'],
]);
const SPAN_CLASS_ROLES = new Map<string, Role>([
  ['legalArticleValue', 'articleNumber'],
  ['legalArticleTitle', 'articleTitle'],
  ['futureLegalArticleHeader', 'articleHeader'],
  ['futuretitle', 'block'],
  ['data-marginOriginalId', 'spaceAfter'],
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
/** Characters before / after an inline-element boundary that call for a word space there (see
 * text()): the left side must not end in an opening bracket, quote, slash, hyphen or dash; the
 * right side must start with a letter, digit, opening bracket/quote or a § sign. */
const NO_SPACE_AFTER = /[\s([{«„“‘"'/\-\u2010-\u2015]/;
const SPACE_BEFORE = /[\p{L}\p{N}([{«§]/u;
/** What an element's first child was (whitespace-only text aside): see DocumentExtractor.text(). */
const enum FirstChild {
  None,
  Text,
  Element,
}

/** Typographically attached inline elements: no word space at their boundaries. */
const ATTACHED_ELEMENTS = new Set(['sub', 'sup']);
/** A § whose whole text is this placeholder is repealed and has no text. */
const REPEALED_PLACEHOLDER = /^\((?:opphevet|oppheva|oppheve)\)\.?$/i;
const HEADING_ELEMENTS = new Set(['h2', 'h3', 'h4', 'h5', 'h6']);

/** Class lookup that also copes with several space-separated classes. */
function classRole(roles: ReadonlyMap<string, Role>, cls: string | undefined): Role | undefined {
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

/** Exhaustiveness check of a switch over roles: a new Role without a case fails to compile. */
function unreachable(role: never): never {
  throw new Error(`extractor: unhandled role ${String(role)}`);
}

/** Only XML whitespace (space, tab, CR, LF): see text(). */
function isXmlBlank(t: string): boolean {
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c !== 32 && c !== 10 && c !== 9 && c !== 13) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------

class DocumentExtractor {
  private readonly parser: SaxesParser<{ xmlns: false; position: boolean }>;
  private readonly header = new HeaderFieldCollector();
  private readonly root = new Unit('root', null);
  private readonly stack: Unit[] = [this.root];
  private top: Unit = this.root;
  private readonly units: Unit[] = [];
  private readonly keyAssigner = new KeyAssigner();
  private readonly refs: PendingReference[] = [];
  private readonly roles: Role[] = [];
  /** Element names, parallel to roles ('' inside skipped subtrees). */
  private readonly names: string[] = [];

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
  // Whitespace rule state (see text()).
  /** Last character of the text routed since the last block boundary ('' at a line start). */
  private lastChar = '';
  /** A tag came after the last non-blank text. */
  private tagBefore = false;
  /** Open (visible) sub/sup elements, and whether the last non-blank text was inside one. */
  private attachedDepth = 0;
  private lastTextAttached = false;
  /** An uncertain position (see text()) lies between the last non-blank text and the next. */
  private uncertain = false;
  /** Per open element: what its first child (blank text aside) was. */
  private readonly firstChild: FirstChild[] = [];
  private inputLength = 0;

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
    this.inputLength += slice.length;
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
      roles.push('skip');
      this.names.push('');
      this.firstChild.push(FirstChild.None);
      return;
    }
    const name = tag.name;
    this.names.push(name);
    this.tagPosition();
    const parentFirst = this.firstChild.length - 1;
    if (this.firstChild[parentFirst] === FirstChild.None) this.firstChild[parentFirst] = FirstChild.Element;
    this.firstChild.push(FirstChild.None);
    const attrs = tag.attributes;
    if (roles.length === 0) {
      if (this.rootClosed) {
        throw this.syntaxError('not well-formed XML: more than one root element');
      }
      this.rootSeen = true;
      this.language = attrs['lang'] ?? attrs['xml:lang'] ?? null;
      roles.push('inline');
      return;
    }
    if (this.inHeader) {
      const role = this.openInHeader(name, attrs['class']);
      roles.push(role);
      this.afterTag(role, name, true);
      return;
    }
    if (!this.inMain) {
      const role = this.openOutsideMain(name);
      roles.push(role);
      this.afterTag(role, name, true);
      return;
    }
    const role = this.bodyRole(name, attrs['class']);
    roles.push(role);
    this.afterTag(role, name, true);
    switch (role) {
      case 'inline':
        if (name === 'a') this.link(attrs['href']);
        else if (name === 'img') this.image(attrs['alt']);
        return;
      case 'block':
        this.boundary();
        return;
      case 'skip':
        this.skipDepth = 1;
        return;
      case 'section':
        this.openUnit('chapter', attrs);
        return;
      case 'article':
        this.articleCount++;
        this.openUnit('article', attrs);
        return;
      case 'futureArticle':
        this.openUnit('future_article', attrs);
        return;
      case 'sectionHeading':
        this.headingUnit = this.top;
        this.capture = this.top.headingParts;
        if (attrs['data-repealeddate']) this.top.repealed = true;
        return;
      case 'articleHeader':
        this.artHeaderDepth++;
        return;
      case 'articleNumber':
        this.capture = this.top.numberParts;
        return;
      case 'articleTitle':
        this.capture = this.top.titleParts;
        return;
      case 'h1':
        this.capture = this.h1Parts;
        return;
      case 'notes':
        this.openNotes();
        return;
      case 'change':
        this.boundary();
        this.change(attrs);
        return;
      case 'listItem':
        this.boundary();
        this.listMarker(attrs['data-li-identifier'] ?? attrs['data-name']);
        return;
      case 'table':
        this.boundary();
        this.cellIndex.push(0);
        return;
      case 'tableRow':
        this.boundary();
        if (this.cellIndex.length > 0) this.cellIndex[this.cellIndex.length - 1] = 0;
        return;
      case 'tableCell': {
        const last = this.cellIndex.length - 1;
        const index = this.cellIndex[last] ?? 0;
        if (index > 0) this.route(' | ');
        if (last >= 0) this.cellIndex[last] = index + 1;
        this.cellDepth++;
        return;
      }
      case 'lineBreak':
        if (this.capture !== null) this.capture.push('\n');
        else this.boundary();
        return;
      case 'spaceAfter':
        return;
      case 'header':
      case 'dd':
      case 'ddItem':
      case 'main':
        return; // header and outside-main roles: never given inside main
      default:
        return unreachable(role);
    }
  }

  private openInHeader(name: string, cls: string | undefined): Role {
    switch (name) {
      case 'dd':
        if (this.header.openDd(cls)) {
          this.ddCaptured = true;
          return 'dd';
        }
        return this.startSkip();
      case 'dt':
        return this.startSkip();
      case 'li':
        if (this.ddCaptured) this.header.openLi();
        return 'ddItem';
      case 'br':
        if (this.ddCaptured) this.header.text(' ');
        return 'inline';
      default:
        return 'inline';
    }
  }

  /** Skip an element's whole subtree (header parts that are not read, the html head). */
  private startSkip(): Role {
    this.skipDepth = 1;
    return 'skip';
  }

  private openOutsideMain(name: string): Role {
    switch (name) {
      case 'head':
        return this.startSkip();
      case 'header':
        this.inHeader = true;
        return 'header';
      case 'main':
        this.inMain = true;
        return 'main';
      default:
        return 'inline';
    }
  }

  private bodyRole(name: string, cls: string | undefined): Role {
    const top = this.top;
    // A chapter's heading must be its first child element.
    if (!top.headerDone && top.kind === 'chapter' && this.headingUnit === null) {
      top.headerDone = true;
      if (HEADING_ELEMENTS.has(name) && !hasClass(cls, 'legalArticleHeader')) return 'sectionHeading';
    }
    switch (name) {
      case 'article': {
        const role = classRole(ARTICLE_CLASS_ROLES, cls);
        if (role === 'notes' && this.notesSink !== null) return 'block';
        return role ?? 'block';
      }
      case 'section':
        return hasClass(cls, 'section') ? 'section' : 'block';
      case 'span': {
        const role = classRole(SPAN_CLASS_ROLES, cls);
        if (role === 'articleHeader') return this.canOpenArticleHeader() ? 'articleHeader' : 'inline';
        if (role === 'articleNumber' || role === 'articleTitle') {
          return this.artHeaderDepth > 0 && this.capture === null ? role : 'inline';
        }
        return role ?? 'inline';
      }
      case 'h2':
      case 'h3':
      case 'h4':
      case 'h5':
      case 'h6':
        if (hasClass(cls, 'legalArticleHeader') && this.canOpenArticleHeader()) return 'articleHeader';
        return 'block';
      case 'h1':
        return this.capture === null && this.h1Parts.length === 0 ? 'h1' : 'block';
      case 'sup':
        return hasClass(cls, 'footnotereference') ? 'skip' : 'inline';
      case 'footer':
        return hasClass(cls, 'footnotes') ? 'skip' : 'block';
      case 'li':
        return 'listItem';
      case 'table':
        return 'table';
      case 'tr':
        return 'tableRow';
      case 'td':
      case 'th':
        return 'tableCell';
      case 'br':
        return 'lineBreak';
      case 'script':
      case 'style':
      case 'template':
        return 'skip';
      default:
        return BLOCK_ELEMENTS.has(name) ? 'block' : 'inline';
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
    const name = this.names.pop() ?? '';
    if (this.skipDepth <= 1) this.tagPosition();
    this.firstChild.pop();
    if (this.roles.length === 0) this.rootClosed = true;
    if (role !== undefined && this.skipDepth <= 1) this.afterTag(role, name, false);
    switch (role) {
      case 'inline':
        return;
      case 'skip':
        this.skipDepth--;
        return;
      case 'block':
      case 'change':
      case 'tableRow':
        this.boundary();
        return;
      case 'section':
      case 'article':
      case 'futureArticle':
        this.closeUnit();
        return;
      case 'sectionHeading': {
        const unit = this.headingUnit;
        this.capture = null;
        this.headingUnit = null;
        if (unit !== null) unit.headerDone = true;
        return;
      }
      case 'articleHeader':
        this.artHeaderDepth--;
        this.top.headerDone = true;
        return;
      case 'articleNumber':
      case 'articleTitle':
      case 'h1':
        this.capture = null;
        return;
      case 'notes':
        this.notesSink?.newline();
        this.notesSink = null;
        return;
      case 'listItem': {
        this.boundary();
        this.existingSink()?.clearPrefix();
        return;
      }
      case 'table':
        this.cellIndex.pop();
        this.boundary();
        return;
      case 'tableCell':
        this.cellDepth--;
        return;
      case 'spaceAfter':
        this.route(' ');
        this.lastChar = ' ';
        return;
      case 'header':
        this.inHeader = false;
        return;
      case 'dd':
        this.header.closeDd();
        this.ddCaptured = false;
        return;
      case 'ddItem':
        if (this.ddCaptured) this.header.closeLi();
        return;
      case 'main':
        this.endTextBlock(this.root);
        this.inMain = false;
        return;
      case 'lineBreak':
      case undefined:
        return;
      default:
        return unreachable(role);
    }
  }

  /**
   * Text of the document, with the serialisation-independent whitespace rule (#12.3). Serialisers
   * add whitespace-only text between tags (indentation of element-only content) or delete it
   * (libxml2's blank-node heuristic in `xmllint --format` deletes whitespace-only text between
   * two tags unless the enclosing element's first child is text). So a position between two tags
   * (with nothing or only XML whitespace between them) is
   * - certain when the enclosing element's first child is (non-blank) text: whitespace there is
   *   one space, nothing there is nothing (no serialiser changes mixed content);
   * - uncertain otherwise: whitespace there is ignored, and one word space is put in when the
   *   text before ends in a character other than a space, opening bracket/quote, slash, hyphen or
   *   dash, and the text after starts with a letter, digit, opening bracket/quote or §, unless
   *   one of the two tags is a sub/sup (`<i>T</i><sub>n</sub>`). `<strong>1.</strong> <a>Lov`,
   *   `<strong>1.</strong><a>Lov` and the same indented all give "1. Lov".
   * Block elements start new lines, so positions next to them never matter. Text with visible
   * characters keeps every space it has.
   */
  private text(t: string): void {
    if (this.skipDepth > 0) return;
    const parent = this.firstChild.length - 1;
    if (isXmlBlank(t)) {
      if (this.firstChild[parent] === FirstChild.Text) {
        this.route(' ');
        this.lastChar = ' ';
      }
      return;
    }
    const attached = this.attachedDepth > 0;
    if (this.uncertain && !attached && !this.lastTextAttached) {
      const before = this.lastChar;
      if (before !== '' && !NO_SPACE_AFTER.test(before) && SPACE_BEFORE.test(t.charAt(0))) this.route(' ');
    }
    this.uncertain = false;
    this.tagBefore = false;
    this.lastTextAttached = attached;
    if (this.firstChild[parent] === FirstChild.None) this.firstChild[parent] = FirstChild.Text;
    this.lastChar = t.charAt(t.length - 1);
    this.route(t);
  }

  /** A tag (open or close) at the current position: marks an uncertain position (see text()). */
  private tagPosition(): void {
    if (this.tagBefore && this.firstChild[this.firstChild.length - 1] !== FirstChild.Text) {
      this.uncertain = true;
    }
    this.tagBefore = true;
  }

  /** After a tag: a block-level role starts a new line, so no word space can follow; a visible
   * sub/sup is typographically attached to its neighbours (no word space next to its text). */
  private afterTag(role: Role, name: string, opening: boolean): void {
    if (role === 'inline') {
      if (ATTACHED_ELEMENTS.has(name)) this.attachedDepth += opening ? 1 : -1;
      return;
    }
    if (role === 'skip') return;
    this.lastChar = '';
    this.uncertain = false;
    this.lastTextAttached = false;
  }

  /** Routes text (from the document or generated: separators, markers) to where it belongs. */
  private route(t: string): void {
    if (this.skipDepth > 0) return;
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
      this.route(`${marker} `);
      this.lastChar = ' ';
      return;
    }
    if (this.skipDepth > 0 || this.artHeaderDepth > 0) return;
    const sink = this.notesSink ?? this.contentSink(marker);
    sink?.setPrefix(marker);
  }

  private image(alt: string | undefined): void {
    if (alt === undefined) return;
    const label = normaliseLine(alt);
    if (label !== '') {
      this.route(` [${label}] `);
      this.lastChar = ' ';
    }
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
    if (this.stack.length > MAX_SECTION_DEPTH) {
      throw new DocumentLimitError(
        `sections (chapters, §§) nested deeper than ${MAX_SECTION_DEPTH} levels (MAX_SECTION_DEPTH)`,
      );
    }
    this.endTextBlock(parent);
    const unit = new Unit(kind, parent === this.root ? null : parent);
    unit.key = this.keyAssigner.assign(kind, unit, attrs);
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

  /** Freeze a unit's number/title/heading/text/notes, hash it and split its chunk texts. */
  private finishUnit(unit: Unit): void {
    if (unit.kind === 'chapter') {
      const lines = unit.headingParts.length === 0 ? [] : headingLines(unit.headingParts, unit.markers);
      const { number, title } = splitChapterHeading(lines);
      unit.number = number;
      unit.title = title;
      unit.heading = lines.join(' ');
      if (isRepealedTitle(unit.heading)) unit.repealed = true;
    } else if (unit.kind !== 'text_block') {
      unit.number = joinNormalised(unit.numberParts, unit.markers);
      unit.title = joinNormalised(unit.titleParts, unit.markers);
      unit.heading = articleHeading(unit.number, unit.title);
      if (isRepealedTitle(unit.title)) unit.repealed = true;
    }
    unit.numberParts = unit.titleParts = unit.headingParts = [];
    unit.text = unit.sink === null ? '' : unit.sink.finish();
    if (unit.sink !== null) for (const id of unit.sink.markers) unit.markers.add(id);
    // A repealed § whose only text is the placeholder '(Opphevet)': repealed, no text.
    if (unit.kind !== 'text_block' && unit.text.length < 16 && REPEALED_PLACEHOLDER.test(unit.text)) {
      unit.text = '';
      unit.repealed = true;
    }
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

  /** Everything collected, for result assembly. */
  collected(): CollectedDocument {
    return {
      header: this.header.build(),
      h1Parts: this.h1Parts,
      units: this.units,
      refs: this.refs,
      language: this.language,
      articleCount: this.articleCount,
      changeCount: this.changeCount,
      inputLength: this.inputLength,
    };
  }
}

/** Heading parts (with '\n' for each <br/>) -> normalised, non-empty lines. */
function headingLines(parts: readonly string[], markers: Set<string>): string[] {
  const out: string[] = [];
  for (const line of parts.join('').split('\n')) {
    const normalised = cleanLine(line, markers);
    if (normalised !== '') out.push(detach(normalised));
  }
  return out;
}
