/** Default upper bound for a chunk's text, in UTF-16 code units. */
export const DEFAULT_MAX_CHUNK_CHARS = 2048;

/** Whitespace after a sentence end: '.', '!', '?', ';', ':' (optionally followed by a closing
 * quote or bracket). */
const SENTENCE_END = /(?<=[.!?;:][»"'’”)\]]?)\s+(?=\S)/g;

/** Estimated tokens: chars / 4, rounded up. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/**
 * Split a unit's (normalised) text into chunk texts of at most `max` chars: the whole text when it
 * fits, else greedily packed runs of whole lines (ledd / list item / table row); a line longer
 * than `max` is split at sentence ends, and a sentence longer than `max` is hard-split (at the
 * last space in the window when there is one in its second half). Every piece is a non-empty
 * substring of `text` (no copy of the characters), at most `max` long, and the pieces cover the
 * text in order, minus the separators they were cut at.
 */
export function splitIntoChunks(text: string, max: number, work?: ChunkWork): string[] {
  if (text.length === 0) return [];
  if (text.length <= max) return [text];
  const out = new ChunkCollector(text);
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    if (end - start > max) {
      out.flush();
      splitLongLine(text, start, end, max, out, work);
    } else {
      out.add(start, end, max);
    }
    start = end + 1;
  }
  out.flush();
  return out.pieces;
}

/** Characters the hard split examined looking for a space (a test measures linearity with it). */
export interface ChunkWork {
  scanned: number;
}

/** Greedy packing of [start, end) segments of `text` into pieces of at most `max` chars. */
class ChunkCollector {
  readonly pieces: string[] = [];
  private start = -1;
  private end = -1;

  constructor(private readonly text: string) {}

  add(start: number, end: number, max: number): void {
    // Skip blank segments (the normaliser never produces them, but callers may).
    while (start < end && isSpace(this.text.charCodeAt(start))) start++;
    while (end > start && isSpace(this.text.charCodeAt(end - 1))) end--;
    if (start === end) return;
    if (this.start >= 0 && end - this.start <= max) {
      this.end = end;
      return;
    }
    this.flush();
    this.start = start;
    this.end = end;
  }

  flush(): void {
    if (this.start >= 0) this.pieces.push(this.text.slice(this.start, this.end));
    this.start = -1;
  }
}

function isSpace(code: number): boolean {
  return code === 32 || code === 10 || code === 9 || code === 13;
}

function splitLongLine(
  text: string,
  start: number,
  end: number,
  max: number,
  out: ChunkCollector,
  work: ChunkWork | undefined,
): void {
  const re = new RegExp(SENTENCE_END.source, 'g');
  re.lastIndex = start;
  let pieceStart = start;
  for (;;) {
    const m = re.exec(text);
    const pieceEnd = m === null || m.index >= end ? end : m.index;
    if (pieceEnd - pieceStart > max) {
      out.flush();
      hardSplit(text, pieceStart, pieceEnd, max, out, work);
    } else {
      out.add(pieceStart, pieceEnd, max);
    }
    if (pieceEnd === end || m === null) break;
    pieceStart = m.index + m[0].length;
  }
  out.flush();
}

/** Last resort: cut at the last space inside the window (if it is in its second half), else at
 * `max` exactly, never between the two halves of a surrogate pair. */
function hardSplit(
  text: string,
  start: number,
  end: number,
  max: number,
  out: ChunkCollector,
  work: ChunkWork | undefined,
): void {
  let from = start;
  while (end - from > max) {
    // Only a space in the second half of the window is used, so only that half is searched: a
    // text without spaces costs O(max) per piece, O(n) in all (lastIndexOf would scan back to the
    // start of the text every time).
    let cut = lastSpaceIn(text, Math.ceil(from + max / 2), from + max, work);
    let next = cut + 1;
    if (cut < 0) {
      cut = from + max;
      const code = text.charCodeAt(cut - 1);
      if (code >= 0xd800 && code <= 0xdbff && cut - 1 > from) cut -= 1;
      next = cut;
    }
    out.add(from, cut, max);
    out.flush();
    from = next;
  }
  out.add(from, end, max);
  out.flush();
}

/** Index of the last ' ' in text[lo, hi] (both inclusive), or -1. */
function lastSpaceIn(text: string, lo: number, hi: number, work: ChunkWork | undefined): number {
  let i = hi;
  while (i >= lo && text.charCodeAt(i) !== 32) i--;
  if (work !== undefined) work.scanned += hi - i;
  return i >= lo ? i : -1;
}
