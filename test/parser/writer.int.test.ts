/**
 * The document writer sends each chunk's position in its section instead of its text; Postgres cuts
 * it out with substr(). These tests read the chunks back and compare them, character for character,
 * with the extractor's output: all 21 real fixtures, and a document whose long section holds
 * multi-byte and non-BMP characters (surrogate pairs in JS, 4 bytes in UTF-8), where UTF-16
 * offsets and UTF-8 byte offsets differ.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withTransaction } from '@lovsync/shared/db';
import {
  chunkSpans,
  packTexts,
  replaceDocumentContent,
  upsertDocument,
} from '../../services/parser/src/document-store.ts';
import { extractDocument, type ExtractedDocument } from '../../services/parser/src/extract/index.ts';
import { fixturePaths, readFixture } from '../../services/parser/src/extract/test-helpers.ts';
import { createTestEnv, type TestEnv } from '@lovsync/testkit/support/harness';

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv('writer');
});
afterAll(async () => {
  await env.teardown();
});

async function store(doc: ExtractedDocument): Promise<void> {
  await withTransaction(env.database.pool, async (c) => {
    await upsertDocument(c, doc, {
      dokid: doc.documentId,
      dataset: 'd',
      path: `${doc.documentId}.xml`,
      sourceHash: 'h',
      runId: 1,
      extractorVersion: 'test',
    });
    await replaceDocumentContent(c, doc, true);
  });
}

async function storedChunks(
  documentId: string,
): Promise<{ chunk_id: string; section_key: string; text: string }[]> {
  const r = await env.database.pool.query(
    'SELECT chunk_id, section_key, text FROM chunks WHERE document_id = $1 ORDER BY ord',
    [documentId],
  );
  return r.rows;
}

const expected = (doc: ExtractedDocument) =>
  doc.chunks.map((c) => ({ chunk_id: c.chunkId, section_key: c.sectionKey, text: c.text }));

describe('chunk texts written as positions in their section', () => {
  it('every chunk of the 21 fixtures reads back exactly as extracted (and most are sent as positions)', async () => {
    let positions = 0;
    let total = 0;
    for (const path of fixturePaths()) {
      const doc = await extractDocument(readFixture(path));
      const spans = chunkSpans(doc.sections, doc.chunks, true);
      positions += spans.text.filter((t) => t === null).length;
      total += doc.chunks.length;
      await store(doc);
      expect(await storedChunks(doc.documentId), path).toEqual(expected(doc));
    }
    expect(total).toBeGreaterThan(1000);
    expect(positions / total).toBeGreaterThan(0.9);
  });

  it('a section with multi-byte and non-BMP characters (surrogate pairs): its chunks are sent as byte positions and read back exactly', async () => {
    const ledd = (i: number) =>
      `<p>Ledd ${i} 𝔏𝔬𝔳 🙂 æøå: ${'Dette er en setning om retten til å leie bolig. '.repeat(12)}</p>`;
    const xml = `<?xml version="1.0" encoding="utf-8"?>
<html lang="no"><head><title>Lov om test</title></head><body><header class="documentHeader"><dl class="data-document-key-info"><dt class="dokid">DokumentID</dt><dd class="dokid">NL/lov/2099-01-01-1</dd><dt class="refid">RefID</dt><dd class="refid">lov/2099-01-01-1</dd><dt class="title">Tittel</dt><dd class="title">Lov om test</dd></dl></header>
<main class="documentBody">
<article class="legalArticle" data-name="§1" id="§1"><h3 class="legalArticleHeader"><span class="legalArticleValue">§ 1</span></h3>
${[1, 2, 3, 4, 5].map(ledd).join('\n')}
</article>
<article class="legalArticle" data-name="§2" id="§2"><h3 class="legalArticleHeader"><span class="legalArticleValue">§ 2</span></h3>
${[1, 2, 3, 4, 5].map((i) => `<p>Ledd ${i}: ${'Vanlig tekst uten spesialtegn i denne paragrafen. '.repeat(12)}</p>`).join('\n')}
</article>
</main></body></html>`;
    const doc = await extractDocument(xml);
    const byKey = (k: string) => doc.chunks.filter((c) => c.sectionKey === k);
    expect(byKey('§1').length).toBeGreaterThan(1);
    expect(byKey('§2').length).toBeGreaterThan(1);
    const spans = chunkSpans(doc.sections, doc.chunks, true);
    // Positions are UTF-8 byte offsets, so surrogate pairs (one 4-byte character) need no fallback.
    expect(spans.text.every((t) => t === null)).toBe(true);
    // Unpacked texts (one contained U+001F): every chunk's text is sent.
    expect(chunkSpans(doc.sections, doc.chunks, false).text).toEqual(doc.chunks.map((c) => c.text));
    await store(doc);
    expect(await storedChunks(doc.documentId)).toEqual(expected(doc));
  });

  it('section texts go as one U+001F-separated string; empty texts and a text containing U+001F survive', async () => {
    expect(packTexts([])).toEqual({ packed: true, value: '' });
    expect(packTexts(['', 'a', ''])).toEqual({ packed: true, value: '\u001f\u001fa\u001f' });
    expect(packTexts(['a', 'b\u001fc'])).toEqual({ packed: false, value: ['a', 'b\u001fc'] });
    const base = await extractDocument(readFixture(fixturePaths()[0]!));
    for (const [label, texts] of [
      ['empty texts (packed)', (i: number) => (i % 2 ? '' : `tekst ${i} "sitert" \\ {a,b}`)],
      ['a text with U+001F (sent as an array)', (i: number) => (i === 0 ? 'før\u001fetter' : `tekst ${i}`)],
    ] as const) {
      const documentId = `${base.documentId}-${label.length}`;
      const doc: ExtractedDocument = {
        ...base,
        documentId,
        sections: base.sections.map((x, i) => ({ ...x, text: texts(i) })),
        // one chunk per non-empty section: its whole text (a byte range when packed, else sent)
        chunks: base.sections
          .map((x, i) => ({ key: x.key, text: texts(i), i }))
          .filter((x) => x.text !== '')
          .map((x, n) => ({
            chunkId: `${documentId}/${x.key}#c${x.i}`,
            sectionKey: x.key,
            ord: n,
            headingPath: '',
            text: x.text.slice(2),
            tokenCount: 1,
          })),
        crossReferences: [],
      };
      await store(doc);
      const r = await env.database.pool.query<{ section_key: string; text: string }>(
        'SELECT section_key, text FROM sections WHERE document_id = $1 ORDER BY ord',
        [doc.documentId],
      );
      expect(r.rows, label).toEqual(doc.sections.map((x) => ({ section_key: x.key, text: x.text })));
      expect(await storedChunks(doc.documentId), label).toEqual(expected(doc));
    }
  });
});
