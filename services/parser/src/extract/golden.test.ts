import { describe, expect, it } from 'vitest';
import { extractDocument } from './index.ts';
import { countMatches, lines, readFixture, section, sectionsOfKind } from './test-helpers.ts';

// The five golden cases of /work/shared/LOVDATA-FORMAT.md, checked by hand against the raw files.
describe('golden cases', () => {
  it('1. nl-19990326-017 husleieloven', async () => {
    const doc = await extractDocument(readFixture('gjeldende-lover/nl/nl-19990326-017.xml'));
    expect(doc.documentId).toBe('NL/lov/1999-03-26-17');
    expect(doc.refid).toBe('lov/1999-03-26-17');
    expect(doc.title).toBe('Lov om husleieavtaler (husleieloven)');
    expect(doc.language).toBe('no');
    expect(sectionsOfKind(doc, 'article')).toHaveLength(93);
    expect(sectionsOfKind(doc, 'chapter')).toHaveLength(13);
    const [first, second] = sectionsOfKind(doc, 'article');
    expect([first?.number, first?.title]).toEqual(['§ 1-1', 'Lovens virkeområde m.v.']);
    expect([second?.number, second?.title]).toEqual(['§ 1-2', 'Ufravikelighet']);
    expect(second?.key).toBe('§1-2');
    expect(lines(section(doc, '§1-2'))[1]).toBe(
      'Ved leie av lokale kan loven fravikes i avtale, med unntak av §§ 1-1 til 1-4, 4-1, 4-4, 4-6, 9-7, 9-8, 9-10, 12-3 og 12-4 og kapittel 13.',
    );
    expect(section(doc, '§1-2').headingPath).toBe(
      'Kapittel 1. Alminnelige bestemmelser > § 1-2. Ufravikelighet',
    );
    expect(section(doc, '§13-2').headingPath).toMatch(/^Kapittel 13\. .+ > § 13-2\. /);
    expect(section(doc, '§1-2').parentKey).toBe('KAPITTEL_1');
    expect(section(doc, 'KAPITTEL_1')).toMatchObject({
      number: 'Kapittel 1',
      title: 'Alminnelige bestemmelser',
      text: '',
    });
    // header fields
    expect(doc.legacyId).toBe('LOV-1999-03-26-17');
    expect(doc.shortTitle).toBe('Husleieloven – husll');
    expect(doc.ministries).toEqual(['Kommunal- og distriktsdepartementet']);
    expect(doc.dateInForce).toEqual(['2000-01-01']);
    expect(doc.lastChangeInForce).toBe('2024-07-01');
    expect(doc.lastChangedBy).toBe('lov/2024-06-25-53 fra 2024-07-01');
    expect(doc.changesDocuments).toEqual(['lov/1939-06-16-6']);
    expect(doc.legalAreas).toEqual(['Fast eiendoms rettsforhold > Husleie']);
    expect(doc.lastUpdated).toBe('2021-07-01 (faglige noter fjernet, UU-tilpasset)');
    expect(doc.isAmendment).toBe(false);
    // links inside § 1-2 point at the law's own §§
    const links = doc.crossReferences.filter((r) => r.kind === 'link' && r.sectionKey === '§1-2');
    expect(links[0]).toMatchObject({
      raw: 'lov/1999-03-26-17/§1-1',
      targetRefid: 'lov/1999-03-26-17',
      targetPart: '§1-1',
    });
    expect(links.at(-1)).toMatchObject({ raw: 'lov/1999-03-26-17/kap13', targetPart: 'kap13' });
    expect(doc.crossReferences).toContainEqual(
      expect.objectContaining({ kind: 'last_changed_by', raw: 'lov/2024-06-25-53', sectionKey: null }),
    );
    expect(doc.crossReferences).toContainEqual(
      expect.objectContaining({
        kind: 'changes_document',
        targetRefid: 'lov/1939-06-16-6',
        targetPart: null,
      }),
    );
  });

  it('2. nl-19610505-000 grannegjerdelova (Nynorsk, no number in refid)', async () => {
    const doc = await extractDocument(readFixture('gjeldende-lover/nl/nl-19610505-000.xml'));
    expect(doc.documentId).toBe('NL/lov/1961-05-05');
    expect(doc.refid).toBe('lov/1961-05-05');
    expect(doc.title).toBe('Lov om grannegjerde [grannegjerdelova]');
    expect(doc.language).toBe('nn');
    expect(sectionsOfKind(doc, 'article')).toHaveLength(20);
    expect(sectionsOfKind(doc, 'chapter')).toHaveLength(8);
    const [first, second] = sectionsOfKind(doc, 'article');
    expect([first?.number, first?.title]).toEqual(['§ 1', null]);
    expect([second?.number, second?.title]).toEqual(['§ 2', null]);
    expect(first?.headingPath).toBe('Ålmenne føresegner. > § 1');
    expect(lines(section(doc, '§3'))[1]).toBe(
      'Det må ikkje gjerast såleis at det løyner bort eller skader noko delemerke.',
    );
  });

  it('3. nl-20250207-001 amendment act', async () => {
    const raw = readFixture('lovtidend-avd1-2025/lti/2025/nl-20250207-001.xml');
    const doc = await extractDocument(raw);
    expect(doc.documentId).toBe('LTI/lov/2025-02-07-1');
    expect(doc.refid).toBe('lov/2025-02-07-1');
    expect(doc.dateInForceRaw).toBe('Kongen bestemmer');
    expect(doc.dateInForce).toEqual([]);
    expect(doc.isAmendment).toBe(true);
    expect(doc.publishedAt).toBe('2025-02-07 11:45');
    expect(doc.journalNumber).toBe('2025-0041');
    expect(sectionsOfKind(doc, 'article')).toHaveLength(0);
    expect(sectionsOfKind(doc, 'chapter')).toHaveLength(2);
    expect(countMatches(raw.toString('utf8'), /class="document-change"/g)).toBe(1);

    const amendments = doc.crossReferences.filter((r) => r.kind.startsWith('amend_'));
    expect(amendments).toHaveLength(14);
    for (const ref of amendments) {
      expect(ref.targetRefid).toBe('lov/2015-06-19-70');
      expect(ref.raw.startsWith('lov/2015-06-19-70/')).toBe(true);
      for (const target of ref.targets) expect(target.startsWith('lov/2015-06-19-70/')).toBe(true);
    }
    expect(amendments.map((r) => r.kind)).toEqual([
      'amend_change',
      'amend_change',
      'amend_add',
      'amend_change',
      'amend_change',
      'amend_change',
      'amend_add',
      'amend_move',
      'amend_change',
      'amend_change',
      'amend_add',
      'amend_move',
      'amend_add',
      'amend_move',
    ]);
    expect(amendments[0]?.targets).toHaveLength(13);
    expect(amendments[0]?.targetPart).toBe('§13/ledd/1');
    expect(amendments[7]).toMatchObject({
      raw: 'lov/2015-06-19-70/§8/ledd/2;;lov/2015-06-19-70/§8/ledd/3 lov/2015-06-19-70/§8/ledd/3;;lov/2015-06-19-70/§8/ledd/4',
      targetPart: '§8/ledd/2',
    });
    expect(doc.changesDocuments).toEqual(['lov/2015-06-19-70']);

    const future = sectionsOfKind(doc, 'future_article');
    expect(future.map((s) => [s.key, s.number, s.title])).toEqual([
      ['§1a', '§ 1 a', 'Lovens formål'],
      ['§5', '§ 5', 'Informasjonsplikt'],
      ['§21', '§ 21', 'Opphør og tilbakekreving av godtgjørelse'],
    ]);
    expect(future[0]?.parentKey).toBe('KAPITTEL_1');
    expect(lines(future[0]!)).toContain('a. motvirke at noen får særlige konkurransefordeler');
    // Loose amendment text is grouped into text blocks between the future §§.
    expect(sectionsOfKind(doc, 'text_block').map((s) => s.key)).toEqual([
      'main/text-0',
      'KAPITTEL_1/text-0',
      'KAPITTEL_1/text-1',
      'KAPITTEL_1/text-2',
      'KAPITTEL_1/text-3',
      'KAPITTEL_2/text-0',
    ]);
    expect(section(doc, 'KAPITTEL_2/text-0').text).toBe('Loven gjelder fra den tiden Kongen bestemmer.');
  });

  it('4. sf-20250109-0020 regulation with an empty §2-3 followed by sibling §2-3-1', async () => {
    const doc = await extractDocument(readFixture('lovtidend-avd1-2025/lti/2025/sf-20250109-0020.xml'));
    expect(doc.refid).toBe('forskrift/2025-01-09-20');
    const articles = sectionsOfKind(doc, 'article');
    expect(articles).toHaveLength(51);
    expect(sectionsOfKind(doc, 'chapter')).toHaveLength(8);
    expect([articles[0]?.number, articles[0]?.title]).toEqual(['§ 1-1', 'Virkeområde']);
    expect([articles[1]?.number, articles[1]?.title]).toEqual(['§ 1-2', 'Definisjoner']);
    expect(lines(section(doc, '§1-1'))[1]).toBe(
      '(2) Ved motstrid går generelle lover, nasjonale forskrifter og rammeplaner foran bestemmelsene i denne forskriften.',
    );
    const empty = section(doc, '§2-3');
    expect(empty.text).toBe('');
    expect(empty.title).toBe('Opptakskrav');
    const next = doc.sections[empty.ord + 1];
    expect(next?.key).toBe('§2-3-1');
    expect(next?.parentKey).toBe(empty.parentKey);
    expect(doc.chunks.some((c) => c.sectionKey === '§2-3')).toBe(false);
    expect(doc.chunks.some((c) => c.sectionKey === '§2-3-1')).toBe(true);
  });

  it('5. nl-20250328-005 with all §§ directly under main', async () => {
    const doc = await extractDocument(readFixture('lovtidend-avd1-2025/lti/2025/nl-20250328-005.xml'));
    expect(doc.refid).toBe('lov/2025-03-28-5');
    expect(doc.title).toBe('Lov om Statens kommisjon for partnerdrap');
    const articles = sectionsOfKind(doc, 'article');
    expect(articles).toHaveLength(14);
    expect(articles.every((s) => s.parentKey === null)).toBe(true);
    expect(sectionsOfKind(doc, 'chapter')).toHaveLength(0);
    expect(lines(section(doc, '§2'))[2]).toBe(
      'Statens sivilrettsforvaltning utøver sekretariatsfunksjoner for kommisjonen.',
    );
    expect(section(doc, '§2').headingPath).toBe(`§ 2. ${section(doc, '§2').title}`);
  });
});
