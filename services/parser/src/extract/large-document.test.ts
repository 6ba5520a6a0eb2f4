import { monitorEventLoopDelay } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { extractDocument } from './index.ts';
import { legalArticleElements, readFixture, sectionsOfKind } from './test-helpers.ts';

const TARGET_BYTES = 50 * 1024 * 1024;

/** A ~50 MB document: husleieloven's header, then its 93 legalArticles repeated inside one main
 * (data-name made unique per copy). */
function buildLargeDocument(): { xml: Buffer; articles: number } {
  const raw = readFixture('gjeldende-lover/nl/nl-19990326-017.xml').toString('utf8');
  const head = raw.slice(0, raw.indexOf('<main '));
  const articles = legalArticleElements(raw);
  expect(articles).toHaveLength(93);
  const block = articles.join('');
  const parts: string[] = [
    head,
    '<main class="documentBody" data-lovdata-URL="NL/lov/1999-03-26-17"><h1>Stor</h1>',
  ];
  let size = 0;
  let copies = 0;
  while (size < TARGET_BYTES) {
    const copy = block.replaceAll('data-name="§', `data-name="§${copies}.`);
    parts.push(copy);
    size += Buffer.byteLength(copy);
    copies++;
  }
  parts.push('</main></body></html>');
  return { xml: Buffer.from(parts.join(''), 'utf8'), articles: copies * articles.length };
}

describe('a 50 MB document', () => {
  it('parses without blocking the event loop for long', { timeout: 120_000 }, async () => {
    const { xml, articles } = buildLargeDocument();
    expect(xml.length).toBeGreaterThanOrEqual(TARGET_BYTES);

    const histogram = monitorEventLoopDelay({ resolution: 10 });
    let maxGap = 0;
    let last = performance.now();
    const probe = setInterval(() => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
    }, 10);
    histogram.enable();
    const started = performance.now();
    const doc = await extractDocument(xml);
    const elapsed = performance.now() - started;
    histogram.disable();
    clearInterval(probe);

    const maxDelayMs = histogram.max / 1e6;
    console.log(
      `50 MB: ${(elapsed / 1000).toFixed(1)} s, ${(xml.length / 1048576 / (elapsed / 1000)).toFixed(1)} MiB/s, ` +
        `max interval gap ${maxGap.toFixed(0)} ms, max event-loop delay ${maxDelayMs.toFixed(0)} ms, ` +
        `${doc.sections.length} sections, ${doc.chunks.length} chunks`,
    );
    expect(sectionsOfKind(doc, 'article')).toHaveLength(articles);
    expect(new Set(doc.sections.map((s) => s.key)).size).toBe(doc.sections.length);
    expect(maxGap).toBeLessThan(200);
    expect(maxDelayMs).toBeLessThan(200);
  });
});
