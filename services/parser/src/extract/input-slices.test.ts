import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { MalformedDocumentError } from './errors.ts';
import { MAX_SLICE, textSlices } from './input-slices.ts';

async function collect(input: Parameters<typeof textSlices>[0]): Promise<string[]> {
  const out: string[] = [];
  for await (const s of textSlices(input)) out.push(s);
  return out;
}

const SAMPLE = 'Æ ø å § – € 😀 '.repeat(20_000); // 1-, 2-, 3- and 4-byte characters

describe('textSlices', () => {
  it('decodes a Buffer in slices of at most 64 KiB, cut on character boundaries', async () => {
    const slices = await collect(Buffer.from(SAMPLE, 'utf8'));
    expect(slices.length).toBeGreaterThan(3);
    for (const s of slices) expect(Buffer.byteLength(s)).toBeLessThanOrEqual(MAX_SLICE);
    expect(slices.join('')).toBe(SAMPLE);
  });

  it('joins characters split across stream chunks of any size', async () => {
    const bytes = Buffer.from(SAMPLE.slice(0, 3000), 'utf8');
    for (const size of [1, 2, 3, 5, 7]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
      expect((await collect(Readable.from(chunks))).join('')).toBe(SAMPLE.slice(0, 3000));
    }
  });

  it('slices strings without separating surrogate pairs', async () => {
    const slices = await collect(SAMPLE);
    for (const s of slices) {
      expect(s.length).toBeLessThanOrEqual(MAX_SLICE);
      expect(/^[\uDC00-\uDFFF]|[\uD800-\uDBFF]$/.test(s)).toBe(false);
    }
    expect(slices.join('')).toBe(SAMPLE);
  });

  it.each([
    ['a stray continuation byte', [0x61, 0x80, 0x62]],
    ['an invalid byte', [0x61, 0xff, 0x62]],
    ['an overlong encoding', [0xc0, 0xaf]],
    ['an encoded surrogate', [0xed, 0xa0, 0x80]],
    ['a truncated final character', [0x61, 0xe2, 0x82]],
  ])('rejects %s', async (_name, bytes) => {
    await expect(collect(Buffer.from(bytes))).rejects.toBeInstanceOf(MalformedDocumentError);
    await expect(collect(Readable.from(bytes.map((b) => Buffer.from([b]))))).rejects.toBeInstanceOf(
      MalformedDocumentError,
    );
  });
});
