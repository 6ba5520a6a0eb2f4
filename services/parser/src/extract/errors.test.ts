import { describe, expect, it } from 'vitest';
import { MalformedDocumentError, extractDocument } from './index.ts';

const HEAD =
  '<!DOCTYPE html><html lang="no"><head><title>T</title></head><body><header class="documentHeader"><dl class="data-document-key-info"><dt class="dokid">DokumentID</dt><dd class="dokid">NL/lov/2000-01-01-1</dd><dt class="refid">RefID</dt><dd class="refid">lov/2000-01-01-1</dd><dt class="title">Tittel</dt><dd class="title">T</dd></dl></header>';
const doc = (body: string): string =>
  `${HEAD}<main class="documentBody" data-lovdata-URL="NL/lov/2000-01-01-1"><h1>T</h1>${body}</main></body></html>`;
const ARTICLE =
  '<article class="legalArticle" data-name="§1"><h2 class="legalArticleHeader"><span class="legalArticleValue">§ 1</span>. <span class="legalArticleTitle">Tittel</span></h2><article class="legalP">Tekst.</article></article>';

async function rejection(input: Parameters<typeof extractDocument>[0]): Promise<MalformedDocumentError> {
  try {
    await extractDocument(input);
  } catch (err) {
    expect(err).toBeInstanceOf(MalformedDocumentError);
    return err as MalformedDocumentError;
  }
  throw new Error('expected MalformedDocumentError');
}

describe('bad input -> MalformedDocumentError', () => {
  it('accepts the minimal valid document these cases are built from', async () => {
    const d = await extractDocument(doc(ARTICLE));
    expect(d.documentId).toBe('NL/lov/2000-01-01-1');
    expect(d.sections.map((s) => [s.key, s.text])).toEqual([['§1', 'Tekst.']]);
  });

  it('unclosed tag at the end of input', async () => {
    const err = await rejection(doc(ARTICLE).replace('</main></body></html>', '</main></body>'));
    expect(err.message).toMatch(/not well-formed XML: unclosed tag: html/);
  });

  it('mismatched close tag, with line and column', async () => {
    const err = await rejection(
      `${HEAD}\n<main class="documentBody">\n  <article class="legalP">x</main></body></html>`,
    );
    expect(err.message).toMatch(/not well-formed XML/);
    expect(err.line).toBe(3);
    expect(err.column).toBeGreaterThan(0);
    expect(err.message).toMatch(/\(line 3, column \d+\)/);
    // the same position when the input is the UTF-8 bytes
    const bytes = await rejection(
      Buffer.from(`${HEAD}\n<main class="documentBody">\n  <article class="legalP">x</main></body></html>`),
    );
    expect([bytes.line, bytes.column]).toEqual([err.line, err.column]);
  });

  it('DTD with <!ENTITY declarations (billion laughs) is refused, not expanded', async () => {
    const lol = [
      '<?xml version="1.0"?>',
      '<!DOCTYPE lolz [',
      ' <!ENTITY lol "lol">',
      ' <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">',
      ' <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">',
      ' <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">',
      ']>',
      '<lolz>&lol3;</lolz>',
    ].join('\n');
    const err = await rejection(lol);
    expect(err.message).toMatch(/DOCTYPE/);
  });

  it('an internal subset without entities is refused too; a plain DOCTYPE is fine', async () => {
    await rejection(doc(ARTICLE).replace('<!DOCTYPE html>', '<!DOCTYPE html [ ]>'));
    await expect(
      extractDocument(
        doc(ARTICLE).replace('<!DOCTYPE html>', '<!DOCTYPE html SYSTEM "about:legacy-compat">'),
      ),
    ).resolves.toBeDefined();
  });

  it('undefined entities are errors (&foo; and HTML-only &nbsp;), the XML ones and &#xa0; are fine', async () => {
    const foo = await rejection(doc(ARTICLE.replace('Tekst.', 'Tekst &foo; her.')));
    expect(foo.message).toMatch(/entity/i);
    await rejection(doc(ARTICLE.replace('Tekst.', 'Tekst&nbsp;her.')));
    const ok = await extractDocument(
      doc(ARTICLE.replace('Tekst.', 'a &lt; b &gt; c &amp; d&#xa0;e &quot;f&quot;')),
    );
    expect(ok.sections[0]?.text).toBe('a < b > c & d e "f"');
  });

  it('invalid UTF-8 bytes', async () => {
    const bytes = Buffer.from(doc(ARTICLE), 'utf8');
    const at = bytes.indexOf('Tekst');
    const bad = Buffer.concat([bytes.subarray(0, at), Buffer.from([0xff, 0xfe, 0xc3]), bytes.subarray(at)]);
    const err = await rejection(bad);
    expect(err.message).toMatch(/invalid UTF-8/);
    // also for a truncated final character
    await rejection(Buffer.concat([bytes, Buffer.from([0xc3])]));
  });

  it('empty and whitespace-only input', async () => {
    expect((await rejection('')).message).toMatch(/empty/);
    await rejection(Buffer.alloc(0));
    await rejection('  \n ');
  });

  it('a well-formed document without dokid', async () => {
    const err = await rejection('<html><body><main><article class="legalP">x</article></main></body></html>');
    expect(err.message).toMatch(/dokid/);
  });

  it('text outside the root element and a second root element', async () => {
    await rejection(`${doc(ARTICLE)}trailing`);
    await rejection(`${doc(ARTICLE)}<html></html>`);
    await rejection(`junk${doc(ARTICLE)}`);
  });
});
