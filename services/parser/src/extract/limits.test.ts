import { describe, expect, it } from 'vitest';
import { MAX_HEADING_PATH_CHARS, MAX_SECTION_DEPTH } from './limits.ts';
import { DocumentLimitError } from './errors.ts';
import { MalformedDocumentError, extractDocument } from './index.ts';
import type { ExtractedDocument } from './index.ts';

// Issue 17 point 9: no quadratic cost in heading paths; hard caps with a clear error. No timing:
// the tests measure output sizes against input sizes.
const HEAD =
  '<!DOCTYPE html><html lang="no"><head><title>T</title></head><body><header class="documentHeader"><dl class="data-document-key-info"><dt class="dokid">D</dt><dd class="dokid">NL/lov/2000-01-01-1</dd></dl></header>';
const wrap = (body: string): string =>
  `${HEAD}<main class="documentBody"><h1>T</h1>${body}</main></body></html>`;

/** A chain of `depth` nested chapters, each with a heading of `headingChars` characters and one §. */
function chain(depth: number, headingChars: number, tag: string): string {
  let open = '';
  let close = '';
  for (let d = 0; d < depth; d++) {
    const heading = `Kapittel ${tag}${d}. ${'h'.repeat(Math.max(1, headingChars - 14))}`;
    open += `<section class="section" data-lovdata-URL="NL/lov/2000-01-01-1/KAPITTEL_${tag}${d}"><h2>${heading}</h2><article class="legalArticle" data-name="§${tag}-${d}"><h3 class="legalArticleHeader"><span class="legalArticleValue">§ ${d}</span></h3><article class="legalP">Tekst.</article></article>`;
    close += '</section>';
  }
  return open + close;
}

/** Characters of every heading path the document stores (sections and chunks). */
function headingPathChars(doc: ExtractedDocument): number {
  let n = 0;
  for (const s of doc.sections) n += s.headingPath.length;
  for (const c of doc.chunks) n += c.headingPath.length;
  return n;
}

async function limitError(xml: string): Promise<DocumentLimitError> {
  try {
    await extractDocument(xml);
  } catch (err) {
    expect(err).toBeInstanceOf(DocumentLimitError);
    expect(err).toBeInstanceOf(MalformedDocumentError);
    return err as DocumentLimitError;
  }
  throw new Error('expected DocumentLimitError');
}

describe('heading paths and work per document are linear (issue 17 point 9)', () => {
  it('documents of growing size with nested chapters: heading path output grows linearly', async () => {
    const ratios: number[] = [];
    for (const copies of [5, 20, 80]) {
      const body = Array.from({ length: copies }, (_, k) => chain(7, 120, `c${k}x`)).join('');
      const xml = wrap(body);
      const doc = await extractDocument(xml);
      expect(doc.sections.filter((s) => s.kind === 'chapter')).toHaveLength(copies * 7);
      ratios.push(headingPathChars(doc) / xml.length);
    }
    expect(ratios[2]! / ratios[0]!).toBeLessThan(1.1);
  });

  it('nesting deeper than MAX_SECTION_DEPTH is refused with a clear error, not a quadratic path', async () => {
    // Within the cap (each chain level's § is one level deeper than its chapter): accepted.
    const ok = await extractDocument(wrap(chain(MAX_SECTION_DEPTH - 1, 100, 'a')));
    expect(ok.sections.filter((s) => s.kind === 'chapter')).toHaveLength(MAX_SECTION_DEPTH - 1);
    // A document whose nesting grows with its size (it used to store depth² heading characters:
    // here 3,000 levels of 200 characters would be ~900 M characters).
    for (const depth of [MAX_SECTION_DEPTH, 3000]) {
      const err = await limitError(wrap(chain(depth, 200, 'b')));
      expect(err.message).toBe(
        `sections (chapters, §§) nested deeper than ${MAX_SECTION_DEPTH} levels (MAX_SECTION_DEPTH)`,
      );
    }
  });

  it('a heading path over MAX_HEADING_PATH_CHARS is refused, naming the section and the limit', async () => {
    const err = await limitError(wrap(chain(3, 3000, 'p')));
    expect(err.message).toMatch(
      new RegExp(
        `^heading path of section KAPITTEL_p2 is \\d+ characters, over the limit of ${MAX_HEADING_PATH_CHARS} \\(MAX_HEADING_PATH_CHARS\\)$`,
      ),
    );
    // Just below the cap is fine.
    const ok = await extractDocument(wrap(chain(2, 3000, 'q')));
    expect(Math.max(...ok.sections.map((s) => s.headingPath.length))).toBeLessThanOrEqual(
      MAX_HEADING_PATH_CHARS,
    );
  });

  it('work per document is capped: a long heading over many tiny §§ is refused', async () => {
    const heading = `Kapittel 1. ${'h'.repeat(7000)}`;
    const articles = (n: number): string =>
      Array.from(
        { length: n },
        (_, i) =>
          `<article class="legalArticle" data-name="§${i}"><article class="legalP">x</article></article>`,
      ).join('');
    const small = wrap(`<section class="section"><h2>${heading}</h2>${articles(50)}</section>`);
    expect((await extractDocument(small)).sections).toHaveLength(51);
    const err = await limitError(
      wrap(`<section class="section"><h2>${heading}</h2>${articles(20_000)}</section>`),
    );
    expect(err.message).toMatch(
      /^document output exceeds \d+ characters \(16 per input character \+ 4194304; MAX_WORK_PER_INPUT_CHAR\)$/,
    );
  });
});
