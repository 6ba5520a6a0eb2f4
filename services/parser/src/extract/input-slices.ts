import { isUtf8 } from 'node:buffer';
import { MalformedDocumentError } from './errors.ts';

/** Largest slice handed to the XML tokenizer in one synchronous call (bytes or UTF-16 units). */
export const MAX_SLICE = 64 * 1024;

/** A whole document: text, or its UTF-8 bytes (parse-job passes text). */
export type ExtractInput = string | Uint8Array;

/**
 * The input as decoded string slices of at most MAX_SLICE bytes / code units. Bytes are decoded as
 * UTF-8, strictly: invalid UTF-8 (including a truncated final character) throws
 * MalformedDocumentError.
 */
export function* textSlices(input: ExtractInput): Generator<string, void, undefined> {
  if (typeof input === 'string') {
    yield* stringSlices(input);
    return;
  }
  const decoder = new Utf8Slicer();
  yield* decoder.bytes(input);
  decoder.end();
}

function* stringSlices(s: string): Generator<string, void, undefined> {
  let start = 0;
  while (start < s.length) {
    let end = Math.min(start + MAX_SLICE, s.length);
    // Never separate the two halves of a surrogate pair.
    if (end < s.length) {
      const code = s.charCodeAt(end - 1);
      if (code >= 0xd800 && code <= 0xdbff) end -= 1;
    }
    yield s.slice(start, end);
    start = end;
  }
}

/**
 * Sliced UTF-8 decoding: each piece is validated with buffer.isUtf8 (simdutf, fast) and decoded
 * with Buffer#toString. Pieces end on character boundaries; an incomplete character at the end of
 * the input is an error.
 */
class Utf8Slicer {
  private tail: Buffer | null = null;

  *bytes(chunk: Uint8Array): Generator<string, void, undefined> {
    let buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.tail !== null) {
      buf = Buffer.concat([this.tail, buf]);
      this.tail = null;
    }
    let start = 0;
    while (start < buf.length) {
      let end = Math.min(start + MAX_SLICE, buf.length);
      if (end < buf.length) {
        end = boundaryBefore(buf, start, end);
      } else {
        const complete = completePrefixEnd(buf, start, end);
        if (complete < end) this.tail = Buffer.from(buf.subarray(complete, end));
        end = complete;
      }
      if (end === start) break;
      const piece = buf.subarray(start, end);
      if (!isUtf8(piece)) throw new MalformedDocumentError('invalid UTF-8 in input');
      yield piece.toString('utf8');
      start = end;
    }
  }

  /** The input is complete: a character still waiting for its remaining bytes is an error. */
  end(): void {
    if (this.tail !== null) {
      throw new MalformedDocumentError('invalid UTF-8 in input: truncated character at the end');
    }
  }
}

/** Move `end` back (at most 3 bytes) so that it does not point into the middle of a character. */
function boundaryBefore(buf: Buffer, start: number, end: number): number {
  for (let i = end; i > start && i > end - 4; i--) {
    if (((buf[i] as number) & 0xc0) !== 0x80) return i;
  }
  return end; // not valid UTF-8 here; isUtf8 will say so
}

/** End of the longest prefix of buf[start, end) that does not stop inside a character. */
function completePrefixEnd(buf: Buffer, start: number, end: number): number {
  for (let i = end - 1; i >= start && i >= end - 4; i--) {
    const byte = buf[i] as number;
    if ((byte & 0xc0) === 0x80) continue; // continuation byte: look further back
    const need = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return end - i < need ? i : end;
  }
  return end;
}
