import { describe, expect, it } from 'vitest';
import { estimateTokens, splitIntoChunks } from './chunker.ts';
import { TextSink, normaliseLine } from './text-normaliser.ts';

describe('splitIntoChunks', () => {
  it('keeps a text that fits whole, and returns nothing for empty text', () => {
    expect(splitIntoChunks('a\nb', 10)).toEqual(['a\nb']);
    expect(splitIntoChunks('', 10)).toEqual([]);
  });

  it('packs whole lines greedily', () => {
    expect(splitIntoChunks('aaaa\nbbbb\ncccc\ndd', 10)).toEqual(['aaaa\nbbbb', 'cccc\ndd']);
  });

  it('splits a long line at sentence ends', () => {
    const line = 'Første setning her. Andre setning! Tredje setning? Fjerde.';
    const parts = splitIntoChunks(`kort\n${line}`, 25);
    expect(parts).toEqual(['kort', 'Første setning her.', 'Andre setning!', 'Tredje setning? Fjerde.']);
  });

  it('hard-splits a sentence longer than the cap, preferring spaces', () => {
    const words = Array.from({ length: 50 }, (_, i) => `ord${i}`).join(' ');
    const parts = splitIntoChunks(words, 40);
    for (const p of parts) expect(p.length).toBeLessThanOrEqual(40);
    expect(parts.join(' ')).toBe(words);
    const blob = 'x'.repeat(95);
    expect(splitIntoChunks(blob, 40)).toEqual(['x'.repeat(40), 'x'.repeat(40), 'x'.repeat(15)]);
  });

  it('never cuts a surrogate pair', () => {
    const s = '😀'.repeat(30);
    for (const p of splitIntoChunks(s, 7)) {
      expect(p.length).toBeLessThanOrEqual(7);
      expect(p.codePointAt(p.length - 1)).not.toBeUndefined();
      expect(/[\uD800-\uDBFF]$/.test(p)).toBe(false);
    }
  });

  it('estimates tokens as ceil(chars/4)', () => {
    expect(estimateTokens('abcde')).toBe(2);
  });
});

describe('text normalisation', () => {
  it('maps NBSP to space, deletes soft hyphen and zero-width characters, collapses whitespace', () => {
    expect(normaliseLine('  a\u00a0\u00a0b\u00adc\u200bd\u200c\u200de\n\tf  ')).toBe('a bcde f');
  });

  it('TextSink drops empty lines and puts a pending marker before the next non-empty line', () => {
    const sink = new TextSink();
    sink.text('Innledning:');
    sink.setPrefix('a)');
    sink.newline();
    sink.text('  ');
    sink.newline();
    sink.text('første');
    sink.newline();
    sink.text('| |');
    sink.newline();
    sink.text('x | | y');
    expect(sink.finish()).toBe('Innledning:\na) første\nx | | y');
  });
});

describe('linear work (issue 17 point 9)', () => {
  // Counts the characters the hard split examines; no timing. A § without whitespace used to
  // rescan from the cut back to the start of the text for every piece (quadratic).
  it('chunking a line without whitespace examines O(n) characters', () => {
    const perChar: number[] = [];
    for (const n of [50_000, 200_000, 800_000]) {
      const work = { scanned: 0 };
      const pieces = splitIntoChunks('x'.repeat(n), 2048, work);
      expect(pieces.join('')).toHaveLength(n);
      perChar.push(work.scanned / n);
    }
    // The same work per input character at every size (at most one window per piece).
    for (const r of perChar) expect(r).toBeLessThanOrEqual(1);
    expect(perChar[2]! / perChar[0]!).toBeLessThan(1.5);
  });
});
