import { MalformedDocumentError } from './errors.ts';

/** Largest slice handed to the XML tokenizer in one synchronous call (bytes or UTF-16 units). */
export const MAX_SLICE = 64 * 1024;

export type ExtractInput =
  AsyncIterable<Buffer | Uint8Array | string> | NodeJS.ReadableStream | Uint8Array | string;

/**
 * Turn any accepted input into decoded string slices of at most MAX_SLICE code units. Bytes are
 * decoded as UTF-8 with a streaming, fatal decoder: multi-byte characters split across chunks are
 * joined correctly, and invalid UTF-8 (including a truncated final character) throws
 * MalformedDocumentError.
 */
export async function* textSlices(input: ExtractInput): AsyncGenerator<string, void, undefined> {
  const decoder = new Utf8Slicer();
  if (typeof input === 'string') {
    yield* stringSlices(input);
    return;
  }
  if (input instanceof Uint8Array) {
    yield* decoder.bytes(input);
    yield* decoder.end();
    return;
  }
  for await (const chunk of input as AsyncIterable<unknown>) {
    if (typeof chunk === 'string') {
      yield* decoder.end();
      yield* stringSlices(chunk);
    } else if (chunk instanceof Uint8Array) {
      yield* decoder.bytes(chunk);
    } else {
      throw new TypeError(`extractDocument: unsupported chunk type ${typeof chunk}`);
    }
  }
  yield* decoder.end();
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

class Utf8Slicer {
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  private pending = false;

  *bytes(buf: Uint8Array): Generator<string, void, undefined> {
    for (let start = 0; start < buf.length; start += MAX_SLICE) {
      const text = this.decode(buf.subarray(start, Math.min(start + MAX_SLICE, buf.length)), true);
      this.pending = true;
      if (text !== '') yield text;
    }
  }

  *end(): Generator<string, void, undefined> {
    if (!this.pending) return;
    this.pending = false;
    const text = this.decode(undefined, false);
    if (text !== '') yield text;
  }

  private decode(bytes: Uint8Array | undefined, stream: boolean): string {
    try {
      return this.decoder.decode(bytes, { stream });
    } catch (err) {
      throw new MalformedDocumentError('invalid UTF-8 in input', undefined, { cause: err });
    }
  }
}
