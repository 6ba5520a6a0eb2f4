// Helpers shared by the extractor tests (real Lovdata fixtures; NLOD 2.0, see the fixtures README).
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ExtractedDocument, ExtractedSection } from './types.ts';

export const FIXTURES = new URL('../../../../test/fixtures/lovdata/', import.meta.url);

const FIXTURE_DIRS = ['gjeldende-lover/nl/', 'lovtidend-avd1-2025/lti/2025/'];

/** Relative paths of all fixture documents ('gjeldende-lover/nl/nl-19990326-017.xml', …). */
export function fixturePaths(): string[] {
  const out: string[] = [];
  for (const dir of FIXTURE_DIRS) {
    for (const name of readdirSync(fileURLToPath(new URL(dir, FIXTURES))).sort()) {
      if (name.endsWith('.xml')) out.push(dir + name);
    }
  }
  return out;
}

export function readFixture(path: string): Buffer {
  return readFileSync(new URL(path, FIXTURES));
}

export function countMatches(text: string, re: RegExp): number {
  return text.match(re)?.length ?? 0;
}

export function sectionsOfKind(doc: ExtractedDocument, kind: ExtractedSection['kind']): ExtractedSection[] {
  return doc.sections.filter((s) => s.kind === kind);
}

export function section(doc: ExtractedDocument, key: string): ExtractedSection {
  const found = doc.sections.find((s) => s.key === key);
  if (!found) throw new Error(`no section ${key} in ${doc.documentId}`);
  return found;
}

export function lines(s: ExtractedSection): string[] {
  return s.text.split('\n');
}

/** The complete `<article class="legalArticle" …>…</article>` elements of a raw document, found by
 * counting nested `<article` / `</article>` tags. */
export function legalArticleElements(xml: string): string[] {
  const out: string[] = [];
  const open = '<article class="legalArticle"';
  let from = xml.indexOf(open);
  while (from >= 0) {
    let depth = 0;
    let i = from;
    for (;;) {
      const nextOpen = xml.indexOf('<article', i);
      const nextClose = xml.indexOf('</article>', i);
      if (nextClose < 0) throw new Error('unbalanced article');
      if (nextOpen >= 0 && nextOpen < nextClose) {
        const end = xml.indexOf('>', nextOpen);
        if (xml[end - 1] !== '/') depth++;
        i = end + 1;
      } else {
        depth--;
        i = nextClose + '</article>'.length;
        if (depth === 0) break;
      }
    }
    out.push(xml.slice(from, i));
    from = xml.indexOf(open, i);
  }
  return out;
}
