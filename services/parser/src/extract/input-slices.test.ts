import { describe, expect, it } from 'vitest';
import { MalformedDocumentError } from './errors.ts';
import { MAX_SLICE, textSlices } from './input-slices.ts';

function collect(input: Parameters<typeof textSlices>[0]): string[] {
  return [...textSlices(input)];
}

const SAMPLE = 'Æ ø å § – € 😀 '.repeat(20_000); // 1-, 2-, 3- and 4-byte characters

describe('textSlices', () => {
  it('decodes a Buffer in slices of at most 64 KiB, cut on character boundaries', async () => {
    const slices = collect(Buffer.from(SAMPLE, 'utf8'));
    expect(slices.length).toBeGreaterThan(3);
    for (const s of slices) expect(Buffer.byteLength(s)).toBeLessThanOrEqual(MAX_SLICE);
    expect(slices.join('')).toBe(SAMPLE);
  });

  it('slices strings without separating surrogate pairs', async () => {
    const slices = collect(SAMPLE);
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
    expect(() => collect(Buffer.from(bytes))).toThrow(MalformedDocumentError);
  });
});
