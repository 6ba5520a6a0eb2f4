import { describe, expect, it } from 'vitest';
import { extractDocument } from './index.ts';
import type { ExtractedDocument } from './index.ts';
import { countMatches, fixturePaths, lines, readFixture, section, sectionsOfKind } from './test-helpers.ts';

const paths = fixturePaths();
const FORBIDDEN = /[\u00A0\u00AD\u200B-\u200D]/;

function checkInvariants(doc: ExtractedDocument, max: number): void {
  const keys = new Set<string>();
  doc.sections.forEach((s, i) => {
    expect(s.ord).toBe(i);
    expect(keys.has(s.key), `duplicate key ${s.key}`).toBe(false);
    if (s.parentKey !== null)
      expect(keys.has(s.parentKey), `parent ${s.parentKey} before ${s.key}`).toBe(true);
    keys.add(s.key);
    for (const value of [s.text, s.number ?? '', s.title ?? '', s.notes ?? '', s.headingPath]) {
      expect(FORBIDDEN.test(value), `${s.key}: forbidden character`).toBe(false);
    }
    for (const line of s.text === '' ? [] : lines(s)) {
      expect(line).not.toBe('');
      expect(line).toBe(line.trim());
      expect(line).not.toMatch(/\s{2}/);
    }
    if (s.kind === 'chapter') expect(s.text).toBe('');
    if (s.kind === 'text_block') expect(s.text).not.toBe('');
    expect(s.textHash).toMatch(/^[0-9a-f]{40}$/);
  });
  const chunkIds = new Set<string>();
  doc.chunks.forEach((c, i) => {
    expect(c.ord).toBe(i);
    expect(chunkIds.has(c.chunkId), `duplicate chunk ${c.chunkId}`).toBe(false);
    chunkIds.add(c.chunkId);
    expect(c.chunkId.startsWith(`${doc.documentId}/${c.sectionKey}#c`)).toBe(true);
    expect(c.text.length).toBeGreaterThan(0);
    expect(c.text.length).toBeLessThanOrEqual(max);
    expect(c.tokenCount).toBe(Math.ceil(c.text.length / 4));
    expect(keys.has(c.sectionKey)).toBe(true);
    expect(section(doc, c.sectionKey).kind).not.toBe('chapter');
  });
  // Every unit with text is covered by its chunks, in order.
  for (const s of doc.sections) {
    const own = doc.chunks.filter((c) => c.sectionKey === s.key);
    if (s.text === '') expect(own).toHaveLength(0);
    else
      expect(
        own
          .map((c) => c.text)
          .join(' ')
          .replace(/\s+/g, ''),
      ).toBe(s.text.replace(/\s+/g, ''));
  }
  for (const r of doc.crossReferences) {
    if (r.sectionKey !== null) expect(keys.has(r.sectionKey)).toBe(true);
    expect(r.raw).not.toBe('');
    expect(r.raw).not.toBe('null');
    expect(r.targets.length).toBeGreaterThan(0);
  }
}

describe('all 21 real fixtures', () => {
  it('finds 21 fixtures', () => {
    expect(paths).toHaveLength(21);
  });

  it.each(paths)('%s parses; counts match the raw file; invariants hold', async (path) => {
    const buf = readFixture(path);
    const raw = buf.toString('utf8');
    const doc = await extractDocument(buf);
    expect(doc.documentId).toBe(/<dd class="dokid">([^<]+)</.exec(raw)?.[1]);
    expect(sectionsOfKind(doc, 'article')).toHaveLength(countMatches(raw, /class="legalArticle"/g));
    expect(sectionsOfKind(doc, 'chapter')).toHaveLength(countMatches(raw, /class="section"/g));
    expect(sectionsOfKind(doc, 'future_article')).toHaveLength(
      countMatches(raw, /class="futureLegalArticle"/g),
    );
    expect(doc.crossReferences.filter((r) => r.kind.startsWith('amend_'))).toHaveLength(
      countMatches(raw, / data-(?:change-part|add-new-part|move-part|repeal-part)="/g),
    );
    expect(doc.crossReferences.filter((r) => r.kind === 'link').length).toBeLessThanOrEqual(
      countMatches(raw, /<a href="(?:lov|forskrift|forarbeid)\//g),
    );
    checkInvariants(doc, 2048);
  });

  it.each(paths)('%s: every chunk <= a small cap (300 chars)', async (path) => {
    const doc = await extractDocument(readFixture(path), { maxChunkChars: 300 });
    checkInvariants(doc, 300);
  });

  it('gives the same result for a Buffer and a string', async () => {
    const buf = readFixture('gjeldende-lover/nl/nl-19610505-000.xml');
    const a = await extractDocument(buf);
    const b = await extractDocument(buf.toString('utf8'));
    expect(b).toEqual(a);
  });

  it('adds list markers from li@data-name / @data-li-identifier', async () => {
    const doc = await extractDocument(readFixture('gjeldende-lover/nl/nl-20050617-101.xml'));
    const s9 = lines(section(doc, '§9'));
    expect(s9[0]).toBe('Matrikulering av ny grunneigedom, anleggseigedom eller festegrunn kan krevjast av:');
    expect(s9[1]).toMatch(/^a\. den som har grunnboksheimel som eigar av grunneigedom/);
    expect(s9[2]).toMatch(/^b\. den som ved rettskraftig avgjerd/);
  });

  it('keys §20a of nl-19170601-001 by data-name, not by its positional id', async () => {
    const doc = await extractDocument(readFixture('gjeldende-lover/nl/nl-19170601-001.xml'));
    const s = section(doc, '§20a');
    expect(s.kind).toBe('article');
    expect(doc.sections.some((x) => x.key.includes('paragraf'))).toBe(false);
  });

  it('keeps the LaTeX block of sf-20250114-0050 as a line', async () => {
    const doc = await extractDocument(readFixture('lovtidend-avd1-2025/lti/2025/sf-20250114-0050.xml'));
    const s = section(doc, '§3-3');
    expect(lines(s)).toContain(
      '$$r = (1 - G) \\cdot [\\frac{Rf + Infl + β_{e} \\cdot MP}{1 - s}] + G \\cdot (Swap + KP)$$',
    );
  });

  it('joins table cells with " | " (862-row table of sf-20250926-2027), one row per line', async () => {
    const raw = readFixture('lovtidend-avd1-2025/lti/2025/sf-20250926-2027.xml');
    expect(countMatches(raw.toString('utf8'), /<tr>/g)).toBe(862);
    const doc = await extractDocument(raw);
    const block = section(doc, 'KAPITTEL_1/text-0');
    expect(lines(block)).toContain('Preparatnavn | Virkestoff | ATC-kode | Dato for ikrafttredelse');
    expect(lines(block)).toContain('Alle | Natriumhydrogenkarbonat | A02AH | 01.09.2020');
    // 862 rows of 4 cells (3 separators; an empty cell leaves '| |').
    expect(lines(block).filter((l) => l.split('|').length === 4)).toHaveLength(862);
    expect(lines(block)).toContain('Alle | Lenadogene nolparvovec | | 01.03.2021');
    // Chunks of the table break between rows.
    const chunks = doc.chunks.filter((c) => c.sectionKey === 'KAPITTEL_1/text-0');
    expect(chunks.length).toBeGreaterThan(10);
    for (const c of chunks) for (const l of c.text.split('\n')) expect(lines(block)).toContain(l);
  });

  it('has future articles where the raw file has futureLegalArticle (nl-20050617-101 has none)', async () => {
    const doc = await extractDocument(readFixture('lovtidend-avd1-2025/lti/2025/sf-20250617-1412.xml'));
    const future = sectionsOfKind(doc, 'future_article');
    expect(future).toHaveLength(21);
    expect(future[0]).toMatchObject({ key: '§6a', number: '§ 6a', parentKey: 'KAPITTEL_1' });
    expect(future.find((s) => s.key === '14c')).toBeDefined();
    // matrikkellova's not-yet-in-force text is a footnote ("Ikkje ikr."), not a futureLegalArticle.
    const raw = readFixture('gjeldende-lover/nl/nl-20050617-101.xml').toString('utf8');
    expect(countMatches(raw, /futureLegalArticle/g)).toBe(0);
    const matrikkel = await extractDocument(raw);
    expect(sectionsOfKind(matrikkel, 'future_article')).toHaveLength(0);
    expect(section(matrikkel, '§7').text).not.toContain('Ikkje ikr.');
  });

  it('marks repealed §§ and chapters (nl-19751212-059)', async () => {
    const doc = await extractDocument(readFixture('gjeldende-lover/nl/nl-19751212-059.xml'));
    expect(section(doc, '§13')).toMatchObject({ repealed: true, title: '(Opphevet)', text: '' });
    expect(section(doc, '§13').notes).toMatch(/^Opphevet ved lov 5 sep 2003 nr\. 92/);
    expect(section(doc, '§12').repealed).toBe(false);
    expect(section(doc, 'KAPITTEL_6').repealed).toBe(true); // heading has data-repealeddate
    expect(section(doc, 'KAPITTEL_5').notes).toMatch(/^Kapitlet med §§ 15 og 16 opphevet/);
    // changesToParent and footnotes are not part of the text
    expect(section(doc, '§17').text).not.toContain('Endret ved');
    expect(section(doc, '§17').text).not.toContain('Fra 1 jan 1976');
    expect(section(doc, '§17').notes).toBe('Endret ved lov 18 des 1987 nr. 83 (tidl. § 15).');
  });

  it('reads nested sections 5 deep and chapter headings split at <br/> (sf-20250317-0468)', async () => {
    const doc = await extractDocument(readFixture('lovtidend-avd1-2025/lti/2025/sf-20250317-0468.xml'));
    const deep = section(doc, 'KAPITTEL_3-1-6-1-1');
    expect(deep).toMatchObject({ number: 'AVSNITT 1', parentKey: 'KAPITTEL_3-1-6-1' });
    expect(deep.headingPath.split(' > ')).toHaveLength(5);
    expect(section(doc, 'KAPITTEL_3-1-1')).toMatchObject({
      number: 'KAPITTEL I',
      title: 'ALMINNELIGE BESTEMMELSER',
    });
    expect(section(doc, 'a1').parentKey).toBe('KAPITTEL_3-1-1');
  });

  it('handles the self-closed <article/> and margin ids (sf-20250616-1337)', async () => {
    const doc = await extractDocument(readFixture('lovtidend-avd1-2025/lti/2025/sf-20250616-1337.xml'));
    const text = doc.sections.map((s) => s.text).join('\n');
    expect(text).toContain('\n1.2.1. Generelle krav til bekreftelsesmetoder\n');
    expect(text).toContain('ISO 80000-1:2022 og rådsdirektiv 80/181/EØF'); // footnote markers dropped
  });

  it('mixes top-level §§ with sections (sf-20250314-0466) and has a text-only document (sf-20250107-0008)', async () => {
    const mixed = await extractDocument(readFixture('lovtidend-avd1-2025/lti/2025/sf-20250314-0466.xml'));
    const articles = sectionsOfKind(mixed, 'article');
    expect(articles.some((s) => s.parentKey === null)).toBe(true);
    expect(articles.some((s) => s.parentKey !== null)).toBe(true);
    const plain = await extractDocument(readFixture('lovtidend-avd1-2025/lti/2025/sf-20250107-0008.xml'));
    expect(plain.sections.map((s) => s.key)).toEqual(['main/text-0']);
    expect(plain.basedOn).toEqual([
      'lov/2018-04-20-8/§25',
      'lov/1925-07-17-11/§4',
      'forskrift/2022-04-29-643/§4',
    ]);
    expect(plain.subunits).toEqual(['Sysselmesteren på Svalbard']);
  });

  it('reads a title with child elements (sf-20250305-0367)', async () => {
    const doc = await extractDocument(readFixture('lovtidend-avd1-2025/lti/2025/sf-20250305-0367.xml'));
    expect(doc.title).toBe('Forskrift om regulering av fisket etter makrellstørje (Thunnus thynnus) i 2025');
    expect(doc.dateInForce).toEqual(['2025-03-05', '2025-12-31']);
  });

  it('keeps both copies of a refid present in two datasets apart by dokid', async () => {
    const a = await extractDocument(readFixture('gjeldende-lover/nl/nl-20250620-093.xml'));
    const b = await extractDocument(readFixture('lovtidend-avd1-2025/lti/2025/nl-20250620-093.xml'));
    expect(a.refid).toBe(b.refid);
    expect(a.documentId).toBe('NL/lov/2025-06-20-93');
    expect(b.documentId).toBe('LTI/lov/2025-06-20-93');
  });
});
