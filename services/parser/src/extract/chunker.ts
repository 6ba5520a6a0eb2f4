/** Default upper bound for a chunk's text, in UTF-16 code units. */
export const DEFAULT_MAX_CHUNK_CHARS = 2048;

/** Whitespace after a sentence end: '.', '!', '?', ';', ':' (optionally followed by a closing
 * quote or bracket). */
const SENTENCE_END = /(?<=[.!?;:][»"'’”)\]]?)\s+(?=\S)/;

/** Estimated tokens: chars / 4, rounded up. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/**
 * Split a unit's text into chunk texts of at most `max` chars: whole text when it fits, else
 * greedily packed lines (ledd / list item / table row), a line longer than `max` split at
 * sentence ends, and a sentence longer than `max` hard-split (at the last space in the window when
 * there is one). Every returned piece is non-empty and at most `max` long.
 */
export function splitIntoChunks(text: string, max: number): string[] {
  if (text.length === 0) return [];
  if (text.length <= max) return [text];
  return pack(text.split('\n'), '\n', max, splitLongLine);
}

function splitLongLine(line: string, max: number): string[] {
  return pack(line.split(SENTENCE_END), ' ', max, hardSplit);
}

/** Greedily join `pieces` with `sep` into strings of at most `max` chars; a piece longer than
 * `max` is broken up by `tooLong` first. */
function pack(
  pieces: readonly string[],
  sep: string,
  max: number,
  tooLong: (piece: string, max: number) => string[],
): string[] {
  const out: string[] = [];
  let current: string[] = [];
  let length = 0;
  const flush = (): void => {
    if (current.length > 0) out.push(current.join(sep));
    current = [];
    length = 0;
  };
  for (const raw of pieces) {
    const piece = raw.trim();
    if (piece === '') continue;
    if (piece.length > max) {
      flush();
      for (const part of tooLong(piece, max)) out.push(part);
      continue;
    }
    const added = current.length === 0 ? piece.length : length + sep.length + piece.length;
    if (added > max) {
      flush();
      current.push(piece);
      length = piece.length;
    } else {
      current.push(piece);
      length = added;
    }
  }
  flush();
  return out;
}

/** Last resort: cut at the last space inside the window (if it is in its second half), else at
 * `max` exactly, never between the two halves of a surrogate pair. */
function hardSplit(piece: string, max: number): string[] {
  const out: string[] = [];
  let rest = piece;
  while (rest.length > max) {
    let cut = rest.lastIndexOf(' ', max);
    if (cut < max / 2) {
      cut = max;
      const code = rest.charCodeAt(cut - 1);
      if (code >= 0xd800 && code <= 0xdbff && cut > 1) cut -= 1;
    }
    const head = rest.slice(0, cut).trim();
    if (head !== '') out.push(head);
    rest = rest.slice(cut).trimStart();
  }
  if (rest !== '') out.push(rest);
  return out;
}
