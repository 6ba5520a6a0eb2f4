import { describe, expect, it } from 'vitest';
import { prettyPrintXml } from '@lovsync/testkit/archive/pretty-xml';
import { xmllintFormat } from '@lovsync/testkit/archive/xmllint-format';
import { extractDocument } from './index.ts';
import type { ExtractedDocument } from './index.ts';
import { corpusMembers } from '@lovsync/testkit/archive/real-corpus';

// Issue 12 point 3 at extractor level: every real law (all 755 of gjeldende-lover, both Grunnloven
// twins) re-serialised gives exactly the same extractor output (document fields, sections with
// their texts and text hashes, chunks, cross-references) as the original bytes.
const serialisers: Array<[string, (xml: string) => string]> = [
  // pretty-printed with indentation, an XML declaration, numeric character references
  ['pretty-printed (testkit archive/pretty-xml.ts)', prettyPrintXml],
  // the same plus libxml2's blank-node deletion, as `xmllint --format` does: without the
  // whitespace rule of DocumentExtractor.text() 13 laws differ ("1. Lov" vs "1.Lov" …)
  ['xmllint --format (testkit archive/xmllint-format.ts)', xmllintFormat],
];

describe('all 755 real laws, re-serialised', () => {
  const originals = new Map<string, ExtractedDocument>();

  it('loads the 755 laws', { timeout: 600_000 }, async () => {
    const members = await corpusMembers('gjeldende-lover');
    expect(members.size).toBe(755);
    for (const [path, xml] of members) originals.set(path, await extractDocument(xml));
    expect(originals.size).toBe(755);
  });

  it.each(serialisers)('%s: identical extractor output', { timeout: 600_000 }, async (_name, serialise) => {
    const members = await corpusMembers('gjeldende-lover');
    expect(originals.size).toBe(755);
    const differing: string[] = [];
    let sections = 0;
    for (const [path, xml] of members) {
      const reserialised = serialise(xml);
      expect(reserialised).not.toBe(xml);
      const original = originals.get(path)!;
      const again = await extractDocument(reserialised);
      sections += again.sections.length;
      if (JSON.stringify(again) !== JSON.stringify(original)) differing.push(path);
    }
    if (differing.length > 0) {
      const path = differing[0]!;
      const again = await extractDocument(serialise(members.get(path)!));
      expect({ path, sections: again.sections }).toEqual({ path, sections: originals.get(path)!.sections });
    }
    expect(differing).toEqual([]);
    expect(sections).toBeGreaterThan(20_000);
  });
});
