import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { prettyPrintXml } from '@lovsync/testkit/archive/pretty-xml';
import { extractDocument } from './index.ts';

const DOC = (body: string) =>
  `<!DOCTYPE html><html lang="no"><head><title>t</title></head><body><header class="documentHeader"><dl class="data-document-key-info"><dt class="dokid">d</dt><dd class="dokid">LTI/forskrift/2002-07-25-972</dd></dl></header><main class="documentBody"><article class="legalArticle" data-name="§1"><h2 class="legalArticleHeader"><span class="legalArticleValue">§ 1</span></h2>${body}</article></main></body></html>`;

it('indentation added between inline elements of element-only content never reaches the text', async () => {
  const xml = DOC(
    '<table><tr><td><i>T</i><sub>n</sub></td><td>omgivelse</td></tr></table><article class="defaultP"><strong>1.</strong> <i>Lov</i></article>',
  );
  const a = await extractDocument(xml);
  const b = await extractDocument(prettyPrintXml(xml));
  expect(a.sections[0]!.text).toBe('Tn | omgivelse\n1. Lov');
  expect(b.sections.map((s) => [s.key, s.text, s.textHash])).toEqual(
    a.sections.map((s) => [s.key, s.text, s.textHash]),
  );
});

it('every real fixture gives identical sections when pretty-printed', async () => {
  const root = join(import.meta.dirname, '../../../../test/fixtures/lovdata');
  const files = readdirSync(root, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.xml'));
  expect(files.length).toBeGreaterThan(10);
  for (const f of files) {
    const xml = readFileSync(join(root, f), 'utf8');
    const a = await extractDocument(xml);
    const b = await extractDocument(prettyPrintXml(xml));
    expect(prettyPrintXml(xml)).not.toBe(xml);
    expect(b.sections, f).toEqual(a.sections);
    expect(b.title).toBe(a.title);
  }
});
