import { describe, expect, it } from 'vitest';
import { extractDocument } from './index.ts';
import type { ExtractedDocument } from './index.ts';

const HEAD =
  '<!DOCTYPE html><html lang="nb"><head><title>T</title></head><body><header class="documentHeader"><dl class="data-document-key-info"><dt class="dokid">DokumentID</dt><dd class="dokid">LTI/forskrift/2025-01-01-1</dd><dt class="title">Tittel</dt><dd class="title">Forskrift om endring i noe</dd><dt class="basedOn">Hjemmel</dt><dd class="basedOn"><ul><li>null</li><li></li><li>lov/2000-01-01-1/§3</li></ul></dd></dl></header>';

function doc(body: string): Promise<ExtractedDocument> {
  return extractDocument(`${HEAD}<main class="documentBody"><h1>T</h1>${body}</main></body></html>`);
}
const art = (name: string, text: string, title = 'Tittel'): string =>
  `<article class="legalArticle" data-name="${name}"><h2 class="legalArticleHeader"><span class="legalArticleValue">${name.replace('§', '§ ')}</span>. <span class="legalArticleTitle">${title}</span></h2><article class="legalP">${text}</article></article>`;
const fut = (name: string, text: string): string =>
  `<article class="futureLegalArticle" data-name="${name}"><span class="futureLegalArticleHeader"><span class="legalArticleValue">${name}</span>. <span class="legalArticleTitle">Ny</span></span><article class="legalP">${text}</article></article>`;
const keys = (d: ExtractedDocument): string[] => d.sections.map((s) => s.key);

describe('keys and units on synthetic documents', () => {
  it('refid falls back to dokid; null/empty header refs are dropped', async () => {
    const d = await doc(art('§1', 'x'));
    expect(d.refid).toBe('forskrift/2025-01-01-1');
    expect(d.basedOn).toEqual(['lov/2000-01-01-1/§3']);
    expect(d.isAmendment).toBe(true);
  });

  it('a future § colliding with a current § is keyed future:… whichever comes first', async () => {
    const d = await doc(
      fut('§5', 'ny tekst') +
        art('§5', 'gjeldende') +
        art('§6', 'x') +
        fut('§6', 'ny 6') +
        fut('§6', 'igjen'),
    );
    expect(keys(d)).toEqual(['future:§5', '§5', '§6', 'future:§6', 'future:§6~2']);
    expect(d.chunks.map((c) => c.chunkId)).toContain('LTI/forskrift/2025-01-01-1/future:§5#c0');
  });

  it('duplicate chapter URLs and missing data-names get unique keys', async () => {
    const sec = (url: string, inner: string): string =>
      `<section class="section" data-lovdata-URL="LTI/forskrift/2025-01-01-1/${url}"><h2>Kapittel 1. A</h2>${inner}</section>`;
    const d = await doc(
      sec('KAPITTEL_1', art('§1', 'a')) +
        sec(
          'KAPITTEL_1',
          '<article class="legalArticle"><article class="legalP">uten navn</article></article>',
        ),
    );
    expect(keys(d)).toEqual(['KAPITTEL_1', '§1', 'KAPITTEL_1~2', 'article-3']);
    expect(d.sections[3]).toMatchObject({ parentKey: 'KAPITTEL_1~2', number: null, title: null });
    expect(d.sections[3]?.headingPath).toBe('Kapittel 1. A');
  });

  it('groups loose text into text blocks per parent, split by child units', async () => {
    const d = await doc(
      '<article class="defaultP">før</article>' +
        '<section class="section" data-lovdata-URL="X/KAPITTEL_1"><h2>I</h2><article class="defaultP">innledning</article><article class="defaultP">mer</article>' +
        art('§1', 'a') +
        '<article class="defaultP">mellom</article>' +
        art('§2', 'b') +
        '</section><article class="defaultP">etter</article>',
    );
    expect(d.sections.map((s) => [s.key, s.kind, s.parentKey, s.text])).toEqual([
      ['main/text-0', 'text_block', null, 'før'],
      ['KAPITTEL_1', 'chapter', null, ''],
      ['KAPITTEL_1/text-0', 'text_block', 'KAPITTEL_1', 'innledning\nmer'],
      ['§1', 'article', 'KAPITTEL_1', 'a'],
      ['KAPITTEL_1/text-1', 'text_block', 'KAPITTEL_1', 'mellom'],
      ['§2', 'article', 'KAPITTEL_1', 'b'],
      ['main/text-1', 'text_block', null, 'etter'],
    ]);
    expect(d.sections.find((s) => s.key === 'KAPITTEL_1/text-1')?.headingPath).toBe('I');
  });

  it('text rules: list markers, tables, br, img, CDATA, inline elements, footnotes, header spans', async () => {
    const d = await doc(
      art(
        '§1',
        'Innledning<sup class="footnotereference">1</sup>:' +
          '<ol><li data-name="a)"><article class="listArticle"><article class="legalP">første</article></article></li>' +
          '<li data-li-identifier="b)"><article class="listArticle"><article class="legalP">andre <i>kursiv</i>\u00ad\u200b punkt</article></article></li></ol>' +
          '<table><tr><th>A</th><th>B</th></tr><tr><td>1<br/>2</td><td/></tr><tr><td/><td/></tr><tr><td/><td>3</td></tr></table>' +
          'linje 1<br/>linje\u00a0\u00a02 <img alt="figur 1"/><![CDATA[ a < b ]]>' +
          '<footer class="footnotes"><article class="footnote">1 Fotnote</article></footer>',
      ),
    );
    expect(d.sections[0]?.text).toBe(
      [
        'Innledning:',
        'a) første',
        'b) andre kursiv punkt',
        'A | B',
        '1 2 |',
        '| 3',
        'linje 1',
        'linje 2 [figur 1] a < b',
      ].join('\n'),
    );
    expect(d.sections[0]?.number).toBe('§ 1');
  });

  it('notes of a § go to notes (joined by newline); links in them and in the text are cross-references', async () => {
    const d = await doc(
      '<article class="legalArticle" data-name="§1"><h2 class="legalArticleHeader"><span class="legalArticleValue">§ 1</span>. <span class="legalArticleTitle">(Oppheva)</span></h2>' +
        '<article class="legalP">Se <a href="lov/2000-01-01-1/§3/ledd/2">§ 3</a> og <a href="#x">her</a> og <a href="https://lovdata.no/">lovdata</a>.</article>' +
        '<article class="changesToParent">Endra ved <a href="lov/2001-01-01-1">lov</a>.</article><article class="changesToParent">Oppheva.</article></article>',
    );
    const s = d.sections[0]!;
    expect(s).toMatchObject({
      repealed: true,
      title: '(Oppheva)',
      text: 'Se § 3 og her og lovdata.',
      notes: 'Endra ved lov.\nOppheva.',
    });
    expect(d.crossReferences.filter((r) => r.kind === 'link')).toEqual([
      {
        sectionKey: '§1',
        kind: 'link',
        raw: 'lov/2000-01-01-1/§3/ledd/2',
        targetRefid: 'lov/2000-01-01-1',
        targetPart: '§3/ledd/2',
        targets: ['lov/2000-01-01-1/§3/ledd/2'],
      },
      {
        sectionKey: '§1',
        kind: 'link',
        raw: 'lov/2001-01-01-1',
        targetRefid: 'lov/2001-01-01-1',
        targetPart: null,
        targets: ['lov/2001-01-01-1'],
      },
    ]);
  });

  it('an amendment change whose only content is a future § is attributed to the chapter', async () => {
    const d = await doc(
      '<section class="section" data-lovdata-URL="X/KAPITTEL_1"><h2>I</h2><article class="document-change" data-document="lov/2000-01-01-1">' +
        `<article class="change" data-change-repeal-part="lov/2000-01-01-1/§9">${fut('§9', 'ny')}</article>` +
        '<article class="change" data-move-part="lov/2000-01-01-1/§1;; lov/2000-01-01-1/§2"><article class="defaultP">§ 1 blir § 2.</article></article>' +
        '</article></section>',
    );
    const amend = d.crossReferences.filter((r) => r.kind.startsWith('amend_'));
    expect(amend.map((r) => [r.kind, r.sectionKey, r.raw, r.targetPart])).toEqual([
      ['amend_repeal', 'KAPITTEL_1', 'lov/2000-01-01-1/§9', '§9'],
      ['amend_move', 'KAPITTEL_1/text-0', 'lov/2000-01-01-1/§1;;lov/2000-01-01-1/§2', '§1'],
    ]);
  });
});
