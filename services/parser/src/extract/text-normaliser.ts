import { stripConsolidationMarkers } from './consolidation-markers.ts';

/** Characters deleted outright: soft hyphen, zero-width space / non-joiner / joiner, word joiner
 * and the zero-width no-break space (BOM). */
const INVISIBLE = /[\u00AD\u200B-\u200D\u2060\uFEFF]/;
const INVISIBLE_ALL = /[\u00AD\u200B-\u200D\u2060\uFEFF]/g;
/** `\s` covers U+00A0 (and the other Unicode spaces), so NBSP becomes an ordinary space here. */
const WHITESPACE_RUN = /\s+/g;
const NON_WHITESPACE = /[^\s\u00AD\u200B-\u200D\u2060\uFEFF]/;
const SEPARATORS_ONLY = /^[| ]+$/;

/** Characters normaliseLine has to rewrite (besides runs of plain spaces): every `\s` character
 * other than U+0020 (NBSP, newline, tab …) and the invisible ones. One character class keeps the
 * common-case test a single fast scan. */
const NEEDS_REWRITE =
  /[\t\n\v\f\r\u00A0\u00AD\u1680\u2000-\u200D\u2010\u2011\u2028\u2029\u202F\u205F\u2060\u3000\uFEFF]/;
/** U+2010 HYPHEN and U+2011 NON-BREAKING HYPHEN are '-' (as NBSP is a space): a release that
 * switches `§ 9‑4a` to `§ 9-4a` changes no text. En and em dashes mean something else and stay. */
const HYPHENS = /[\u2010\u2011]/g;

/** Normalise one line: delete invisible characters, collapse whitespace (incl. NBSP), U+2010/U+2011
 * to '-', trim. Most
 * lines need only the trim, which one regex test (no allocation) establishes. */
export function normaliseLine(raw: string): string {
  if (!NEEDS_REWRITE.test(raw) && !raw.includes('  ')) return raw.trim();
  const s = INVISIBLE.test(raw) ? raw.replace(INVISIBLE_ALL, '') : raw;
  return s.replace(WHITESPACE_RUN, ' ').replace(HYPHENS, '-').trim();
}

/**
 * A copy of `s` that does not keep a larger string alive. The tokenizer hands out text as substrings of the
 * whole 64 KiB input slice, and V8 keeps the parent of such a slice alive for as long as the
 * substring lives; stored output must not pin the input. (Flattening `s + ' '` copies it.)
 */
export function detach(s: string): string {
  return s.length < 13 ? s : (s + ' ').slice(0, -1);
}

/** normaliseLine, then EUR-Lex consolidation markers stripped (their ids added to `markers`). */
export function cleanLine(raw: string, markers: Set<string> | null = null): string {
  return stripConsolidationMarkers(normaliseLine(raw), markers);
}

/** Normalise collected parts into one line; null when nothing is left. */
export function joinNormalised(parts: readonly string[], markers: Set<string> | null = null): string | null {
  if (parts.length === 0) return null;
  const line =
    parts.length === 1 ? detach(cleanLine(parts[0] as string, markers)) : cleanLine(parts.join(''), markers);
  return line === '' ? null : line;
}

/** True when `s` has at least one visible character. */
export function hasVisibleText(s: string): boolean {
  return NON_WHITESPACE.test(s);
}

/**
 * Accumulates the text of one unit as lines. Text parts are collected in an array and joined once
 * per line (no repeated string concatenation); block boundaries call newline(); empty lines are
 * dropped. A pending prefix (list marker) is put in front of the next non-empty line.
 */
export class TextSink {
  private readonly lines: string[] = [];
  private readonly parts: string[] = [];
  private prefix: string | null = null;
  /** Ids of the EUR-Lex consolidation markers stripped from this text (see consolidation-markers). */
  readonly markers = new Set<string>();

  text(s: string): void {
    this.parts.push(s);
  }

  newline(): void {
    const parts = this.parts;
    if (parts.length === 0) return;
    const raw = parts.length === 1 ? (parts[0] as string) : parts.join('');
    parts.length = 0;
    const line = cleanLine(raw, this.markers);
    if (line === '') return;
    // A table row whose cells are all empty leaves only separators behind.
    if (line.charCodeAt(0) === 124 /* | */ && SEPARATORS_ONLY.test(line)) return;
    const out = this.prefix === null ? line : `${this.prefix} ${line}`;
    this.prefix = null;
    this.lines.push(out);
  }

  /** Start a new line whose first non-empty content is prefixed by `marker`. */
  setPrefix(marker: string): void {
    this.newline();
    this.prefix = marker;
  }

  clearPrefix(): void {
    this.prefix = null;
  }

  finish(): string {
    this.newline();
    this.prefix = null;
    const lines = this.lines;
    // A single line may still be a substring of the input (see detach); a join of several is a
    // fresh string.
    const text = lines.length === 1 ? detach(lines[0] as string) : lines.join('\n');
    lines.length = 0;
    return text;
  }
}
