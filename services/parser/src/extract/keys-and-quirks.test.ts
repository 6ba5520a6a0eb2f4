import { describe, expect, it } from 'vitest';
import { extractDocument } from './index.ts';
import type { ExtractedDocument } from './index.ts';
import { corpusMembers } from '@lovsync/testkit/archive/real-corpus';
import { normaliseKey } from './section-keys.ts';
import { lines, section } from './test-helpers.ts';

const HEAD = (title = 'T') =>
  `<!DOCTYPE html><html lang="no"><head><title>T</title></head><body><header class="documentHeader"><dl class="data-document-key-info"><dt class="dokid">D</dt><dd class="dokid">NL/lov/2000-01-01-1</dd><dt class="title">Tittel</dt><dd class="title">${title}</dd></dl></header>`;
const doc = (body: string, title?: string): Promise<ExtractedDocument> =>
  extractDocument(`${HEAD(title)}<main class="documentBody"><h1>T</h1>${body}</main></body></html>`);
const art = (name: string, number: string, text: string, title = 'Tittel'): string =>
  `<article class="legalArticle" data-name="${name}"><h2 class="legalArticleHeader"><span class="legalArticleValue">${number}</span>. <span class="legalArticleTitle">${title}</span></h2><article class="legalP">${text}</article></article>`;

describe('section keys are stable under Unicode variants (issue 12 point 2)', () => {
  const variants: Array<[string, string]> = [
    ['U+2010 HYPHEN', '§9\u20104a'],
    ['U+2011 NON-BREAKING HYPHEN', '§9\u20114a'],
    ['U+2012 FIGURE DASH', '§9\u20124a'],
    ['U+2013 EN DASH', '§9\u20134a'],
    ['U+2014 EM DASH', '§9\u20144a'],
    ['U+2015 HORIZONTAL BAR', '§9\u20154a'],
    ['U+2212 MINUS SIGN', '§9\u22124a'],
    ['U+00AD SOFT HYPHEN', '§9-\u00AD4a'],
    ['U+00A0 NBSP', '§\u00A09-4a'],
    ['U+2009 THIN SPACE', '§\u20099-4a'],
    ['U+202F NARROW NBSP', '§\u202F9-4a'],
    ['U+2007 FIGURE SPACE', '§\u20079-4a'],
    ['U+200B ZERO WIDTH SPACE', '§9-4\u200Ba'],
    ['U+FEFF ZERO WIDTH NBSP', '\uFEFF§9-4a'],
    ['ASCII space', '§ 9-4a'],
  ];

  it.each(variants)('%s: same key as "§9-4a", raw data-name kept', async (_label, raw) => {
    const d = await doc(art(raw, `§ ${raw.slice(1)}`, 'Tekst.'));
    expect(d.sections[0]).toMatchObject({ key: '§9-4a', dataName: raw });
    expect(d.chunks[0]?.chunkId).toBe('NL/lov/2000-01-01-1/§9-4a#c0');
  });

  it('NFC: composed and decomposed letters are one key', async () => {
    const decomposed = 'vedlegg-a\u030A'; // a + COMBINING RING ABOVE
    const d = await doc(art(decomposed, '§ 1', 'x'));
    expect(d.sections[0]?.key).toBe('vedlegg-å');
    expect(normaliseKey(decomposed)).toBe(normaliseKey('vedlegg-å'));
  });

  it('the rule is idempotent and leaves plain ASCII keys alone', () => {
    for (const [, raw] of variants) expect(normaliseKey(normaliseKey(raw))).toBe(normaliseKey(raw));
    for (const k of ['§1-1', 'KAPITTEL_4-1', 'a1', 'future:§5']) expect(normaliseKey(k)).toBe(k);
  });

  it('chapter keys (data-lovdata-URL segment) and link targets are normalised the same way', async () => {
    const d = await doc(
      `<section class="section" data-lovdata-URL="NL/lov/2000-01-01-1/KAPITTEL_4\u20111"><h2>Kapittel 4</h2>${art(
        '§1',
        '§ 1',
        'Se <a href="lov/2000-01-01-1/§9\u20114a">§ 9-4a</a>.',
      )}</section>`,
    );
    expect(section(d, 'KAPITTEL_4-1').dataName).toBe('KAPITTEL_4\u20111');
    const link = d.crossReferences.find((r) => r.kind === 'link');
    expect(link).toMatchObject({ raw: 'lov/2000-01-01-1/§9\u20114a', targetPart: '§9-4a' });
  });

  it('a real release edit (U+2011 -> "-" in data-name and number) keeps key, number and text hash', async () => {
    const before = await doc(art('§9\u20114a', '§ 9\u20114a', 'Tekst.'));
    const after = await doc(art('§9-4a', '§ 9-4a', 'Tekst.'));
    expect(after.sections[0]?.key).toBe(before.sections[0]?.key);
    // U+2010/U+2011 are '-' in text too (as NBSP is a space): no section change at all
    expect(after.sections[0]?.number).toBe('§ 9-4a');
    expect(before.sections[0]?.number).toBe('§ 9-4a');
    expect(after.sections[0]?.textHash).toBe(before.sections[0]?.textHash);
    expect([before.sections[0]?.dataName, after.sections[0]?.dataName]).toEqual(['§9\u20114a', '§9-4a']);
  });
});

describe('text is independent of XML serialisation (issue 12 point 3)', () => {
  const text = async (inner: string): Promise<string> =>
    (await doc(art('§1', '§ 1', inner))).sections[0]!.text;

  it('list-marker spacing: "1. Lov" with the space, without it (xmllint) and indented', async () => {
    const spaced = await text('<strong>1.</strong> <a href="lov/2009-03-06-11">Lov 6. mars 2009</a> endres.');
    expect(spaced).toBe('1. Lov 6. mars 2009 endres.');
    expect(await text('<strong>1.</strong><a href="lov/2009-03-06-11">Lov 6. mars 2009</a> endres.')).toBe(
      spaced,
    );
    expect(
      await text('<strong>1.</strong>\n      <a href="lov/2009-03-06-11">Lov 6. mars 2009</a> endres.'),
    ).toBe(spaced);
  });

  it('between two inline elements in element-first content: one word space by rule', async () => {
    for (const gap of ['', ' ', '\n  ', '\t']) {
      expect(await text(`<i>som er oppmerksom på</i>${gap}<a href="traktat/1958">Konvensjon</a>`)).toBe(
        'som er oppmerksom på Konvensjon',
      );
      // typographically attached: sub/sup, and no space after an opening bracket or a hyphen
      expect(await text(`<i>T</i>${gap}<sub>n</sub>`)).toBe('Tn');
      expect(await text(`<i>f</i>${gap}<i><sub>n</sub></i>`)).toBe('fn');
      expect(await text(`<i>EØS-</i>${gap}<i>avtalen</i>`)).toBe('EØS-avtalen');
    }
  });

  it('mixed content (first child is text) keeps its whitespace exactly, and adds none', async () => {
    expect(await text('Se <a href="lov/x/§1">§ 8-3</a> <a href="lov/x/§1">første ledd</a>.')).toBe(
      'Se § 8-3 første ledd.',
    );
    expect(await text('Etter §<a href="lov/x/§9">§ 9</a> og 11')).toBe('Etter §§ 9 og 11');
    expect(await text('i <a href="lov/x/§3">denne lov</a>a.')).toBe('i denne lova.');
    expect(await text('Gymnasialt: <span lang="da">a</span><span lang="fo">b</span>')).toBe('Gymnasialt: ab');
  });

  it('significant spaces inside text nodes are never lost; NBSP-only text is a space', async () => {
    expect(await text('<i>a</i>&#xa0;<i>b</i>')).toBe('a b');
    expect(await text('<b>x</b><i> y</i>')).toBe('x y');
  });
});

describe('real quirks (issue 12 point 5)', () => {
  it('zero-width and invisible characters in titles and headings are deleted', async () => {
    const d = await doc(
      `<section class="section"><h2>Kapittel\u200B 1. Al\u00ADminnelige\u2060 bestemmelser</h2>${art('§1', '§\u200B 1', 'x', 'Lo\u200Bvens\uFEFF formål')}</section>`,
      'Lov\u200B om noe',
    );
    expect(d.title).toBe('Lov om noe');
    expect(d.sections[0]).toMatchObject({ number: 'Kapittel 1', title: 'Alminnelige bestemmelser' });
    expect(d.sections[1]).toMatchObject({ number: '§ 1', title: 'Lovens formål' });
  });

  it('a § whose only text is "(Opphevet)" is repealed and has no text or chunk', async () => {
    const d = await doc(art('§3', '§ 3', '(Opphevet)', 'Tittel') + art('§4', '§ 4', '(Oppheva)', 'T'));
    expect(d.sections.map((s) => [s.key, s.repealed, s.text])).toEqual([
      ['§3', true, ''],
      ['§4', true, ''],
    ]);
    expect(d.chunks).toHaveLength(0);
    // inside a list it is a (repealed) item of a § that stays in force
    const list = await doc(
      art(
        '§5',
        '§ 5',
        'Innledning:</article><ul><li data-name="a)"><article class="listArticle"><article class="legalP">(Opphevet)</article></article></li></ul><article class="legalP">Slutt.',
      ),
    );
    expect(list.sections[0]).toMatchObject({ repealed: false, text: 'Innledning:\na) (Opphevet)\nSlutt.' });
  });

  it('EUR-Lex markers (synthetic): stripped from text, title and heading; ids kept', async () => {
    const d = await doc(
      `<section class="section"><h2>Vedlegg III ►<strong>M8</strong> Liste</h2>${art('a2', 'Artikkel 2', '►<strong>M6</strong> å påvirke ◄ planter ► <strong>B</strong> Basis', '►M3 Tittel ◄')}</section>`,
    );
    expect(d.sections[0]).toMatchObject({
      number: 'Vedlegg III',
      title: 'Liste',
      consolidationMarkers: ['M8'],
    });
    expect(d.sections[1]).toMatchObject({ title: 'Tittel', text: 'å påvirke planter Basis' });
    expect(d.sections[1]?.consolidationMarkers).toEqual(['M3', 'M6', 'B']);
  });

  // The real sample (../shared/corpus): each quirk as it occurs there.
  it('real: EUR-Lex markers in sf-20150506-0455 and in every sample regulation that has them', async () => {
    const members = await corpusMembers('gjeldende-sentrale-forskrifter');
    const raw = members.get('sf/sf-20150506-0455.xml')!;
    expect(raw).toContain('►<strong>M6</strong>');
    const d = await extractDocument(raw);
    expect(d.sections.some((s) => /[►◄]/.test(s.text + (s.title ?? '') + s.headingPath))).toBe(false);
    expect(lines(section(d, 'a2'))).toContain(
      'b. å påvirke planters livsprosesser, for eksempel ved å påvirke plantenes vekst, på annen måte enn som næringsstoff eller biostimulant,',
    );
    expect(section(d, 'a2').consolidationMarkers).toContain('M6');
    // every sample document with markers: none left anywhere
    let withMarkers = 0;
    for (const [path, xml] of members) {
      if (!xml.includes('►')) continue;
      withMarkers++;
      const doc = await extractDocument(xml);
      for (const s of doc.sections) {
        expect(/[►◄]/.test(s.text + (s.title ?? '') + (s.number ?? '')), `${path} ${s.key}`).toBe(false);
      }
    }
    expect(withMarkers).toBeGreaterThan(5);
  }, 600_000);

  it('real: soft hyphens in a table (sf-20120530-0512) and zero-width spaces in text (sf-20160415-0377)', async () => {
    const members = await corpusMembers('gjeldende-sentrale-forskrifter');
    const tables = members.get('sf/sf-20120530-0512.xml')!;
    expect(tables).toContain('Natrium\u00ADsalisylat</td>');
    const t = await extractDocument(tables);
    const cell = t.sections.flatMap((s) => s.text.split('\n')).find((l) => l.includes('Natriumsalisylat'));
    expect(cell).toMatch(/^Natriumsalisylat \| /);
    const zw = await extractDocument(members.get('sf/sf-20160415-0377.xml')!);
    expect(zw.sections.some((s) => /[\u00AD\u200B-\u200D]/.test(s.text + (s.title ?? '')))).toBe(false);
    expect(zw.sections.some((s) => s.text.includes('kan behandle personopplysninger'))).toBe(true);
  }, 600_000);

  it('real: repealed §§ "(Opphevet)"/"(Oppheva)" in the laws are repealed, without text or chunks', async () => {
    const members = await corpusMembers('gjeldende-lover');
    let repealed = 0;
    for (const path of ['nl/nl-19400315-003.xml', 'nl/nl-19360710-006.xml']) {
      const d = await extractDocument(members.get(path)!);
      for (const s of d.sections) {
        if (s.kind !== 'article' || !/^\((Opphevet|Oppheva)\)$/.test(s.title ?? '')) continue;
        repealed++;
        expect(s.repealed).toBe(true);
        expect(s.text).toBe('');
        expect(d.chunks.some((c) => c.sectionKey === s.key)).toBe(false);
      }
    }
    expect(repealed).toBeGreaterThanOrEqual(155 + 3);
  }, 600_000);

  it("real: changesToParent notes on chapter headings are the chapter's notes, not text (sf-20020425-0422)", async () => {
    const members = await corpusMembers('gjeldende-sentrale-forskrifter');
    const raw = members.get('sf/sf-20020425-0422.xml')!;
    expect(raw).toContain(
      'KAPITTEL_2"><h2>Kapittel II. Sveising og annet varmt arbeid</h2><article class="changesToParent">',
    );
    const d = await extractDocument(raw);
    const chapter = section(d, 'KAPITTEL_2');
    expect(chapter.notes).toMatch(/^Overskriften endret ved /);
    expect(chapter.text).toBe('');
    expect(d.sections.some((s) => s.kind === 'text_block' && s.text.startsWith('Overskriften endret'))).toBe(
      false,
    );
    // the note's links belong to the chapter
    expect(d.crossReferences.some((r) => r.sectionKey === 'KAPITTEL_2' && r.kind === 'link')).toBe(true);
  }, 600_000);

  it('real: refids without a number (lov/1967-02-10, forvaltningsloven) as link targets', async () => {
    const members = await corpusMembers('gjeldende-lover');
    const d = await extractDocument(members.get('nl/nl-19270701-001.xml')!);
    const ref = d.crossReferences.find((r) => r.raw.startsWith('lov/1967-02-10/'));
    expect(ref).toMatchObject({ targetRefid: 'lov/1967-02-10', targetPart: '§36', sectionKey: '§16' });
    const fvl = await extractDocument(members.get('nl/nl-19670210-000.xml')!);
    expect(fvl.refid).toBe('lov/1967-02-10');
  }, 600_000);
});
