/**
 * bench/tokenizers (issue 15): XML tokenizers on the real sample (every XML member of the archives
 * in ../shared/corpus: 2,557 documents, 100.8 MB), from in-memory strings, as the extractor feeds
 * saxes. Per candidate: MB/s (UTF-8 bytes / wall time of a pass over the whole sample; median of
 * PASSES after one warm-up pass), what it delivered (elements, attributes, text characters after
 * entity decoding: the same numbers mean the same reading of the documents), and whether it
 * rejects malformed XML (the strictness cases below). Each candidate runs in its own child process,
 * so one's garbage and JIT state do not slow the next.
 *
 *   pnpm bench:tokenizers                  (PASSES=3)
 *   BENCH_TOKENIZER_MB=20 pnpm bench:tokenizers   (only the first ~20 MB of the sample)
 *
 * ltx's tokenizer (SaxLtx) does not get past `<!DOCTYPE html>` (0 elements) and takes ~2.3 s per
 * 140 kB document doing so; it is reported as killed after BENCH_TOKENIZER_TIMEOUT_S (120).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseXml, XmlElement, XmlText } from '@rgrove/parse-xml';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { Parser as Htmlparser2 } from 'htmlparser2';
import { XmlDocument } from 'libxml2-wasm';
import SaxLtx from 'ltx/src/parsers/ltx.js';
import sax from 'sax';
import { Parser as Saxen } from 'saxen';
import { SaxesParser } from 'saxes';
import { parse as txmlParse, type TNode } from 'txml';
import { CORPUS_ARCHIVES, CORPUS_DIR, corpusAvailable } from '@lovsync/testkit/support/corpus';
import { readArchive } from '@lovsync/sync';
import { collectOutput, ROOT } from './lib/proc.ts';
import { log, MB, printTable, summarise } from './lib/stats.ts';

const PASSES = Number(process.env.PASSES ?? 3);
const LIMIT_MB = Number(process.env.BENCH_TOKENIZER_MB ?? Infinity);
/** A candidate whose warm-up and passes take longer is killed and reported as such. */
const TIMEOUT_S = Number(process.env.BENCH_TOKENIZER_TIMEOUT_S ?? 120);

interface Counts {
  elements: number;
  attributes: number;
  textChars: number;
}

type Tokenize = (xml: string, counts: Counts) => void;

interface Candidate {
  name: string;
  kind: string;
  tokenize: Tokenize;
}

/** Text characters counted after entity decoding (U+00A0 from `&#xa0;` is one character). */
const CANDIDATES: Candidate[] = [
  {
    name: 'saxes 6.0.0 (current)',
    kind: 'SAX, strict XML 1.0',
    tokenize(xml, c) {
      const p = new SaxesParser({ xmlns: false, position: false });
      p.on('opentag', (tag) => {
        c.elements++;
        for (const _ in tag.attributes) c.attributes++;
      });
      p.on('text', (t) => (c.textChars += t.length));
      p.on('error', (e) => {
        throw e;
      });
      p.write(xml).close();
    },
  },
  {
    name: 'sax 1.6.1 (strict)',
    kind: 'SAX, strict mode',
    tokenize(xml, c) {
      const p = sax.parser(true, {});
      p.onopentag = (tag) => {
        c.elements++;
        for (const _ in tag.attributes) c.attributes++;
      };
      p.ontext = (t) => (c.textChars += t.length);
      p.onerror = (e) => {
        throw e;
      };
      p.write(xml).close();
    },
  },
  {
    name: 'saxen 11.2.0',
    kind: 'SAX, lazy attributes and entities; errors on structure',
    tokenize(xml, c) {
      const p = new Saxen();
      p.on('openTag', (_name: string, attrs: () => Record<string, string>) => {
        c.elements++;
        for (const _ in attrs()) c.attributes++;
      });
      p.on('text', (t: string, decode: (s: string) => string) => (c.textChars += decode(t).length));
      p.on('error', (e: Error) => {
        throw e;
      });
      p.parse(xml);
    },
  },
  {
    name: 'htmlparser2 12.0.0 (xmlMode)',
    kind: 'SAX, forgiving: never reports an error',
    tokenize(xml, c) {
      const p = new Htmlparser2(
        {
          onopentag(_name, attribs) {
            c.elements++;
            for (const _ in attribs) c.attributes++;
          },
          ontext(t) {
            c.textChars += t.length;
          },
          onerror(e) {
            throw e;
          },
        },
        { xmlMode: true, decodeEntities: true },
      );
      p.write(xml);
      p.end();
    },
  },
  {
    name: 'ltx 3.1.2 (SaxLtx tokenizer)',
    kind: 'SAX, lenient',
    tokenize(xml, c) {
      const p = new SaxLtx();
      p.on('startElement', (_name: string, attrs: Record<string, string>) => {
        c.elements++;
        for (const _ in attrs) c.attributes++;
      });
      p.on('text', (t: string) => (c.textChars += t.length));
      p.on('error', (e: Error) => {
        throw e;
      });
      p.write(xml);
      p.end();
    },
  },
  {
    name: 'txml 6.0.3',
    kind: 'DOM, lenient, no entity decoding',
    tokenize(xml, c) {
      const walk = (nodes: (TNode | string)[]) => {
        for (const n of nodes) {
          if (typeof n === 'string') c.textChars += n.length;
          else {
            c.elements++;
            for (const _ in n.attributes) c.attributes++;
            walk(n.children);
          }
        }
      };
      walk(txmlParse(xml, { keepWhitespace: true }));
    },
  },
  {
    name: '@rgrove/parse-xml 4.2.3',
    kind: 'DOM, strict XML 1.0',
    tokenize(xml, c) {
      const walk = (el: XmlElement) => {
        c.elements++;
        for (const _ in el.attributes) c.attributes++;
        for (const n of el.children) {
          if (n instanceof XmlElement) walk(n);
          else if (n instanceof XmlText) c.textChars += n.text.length;
        }
      };
      walk(parseXml(xml).root!);
    },
  },
  {
    name: 'fast-xml-parser 5.12.1 (validate + parse)',
    kind: 'DOM; XMLValidator checks well-formedness first',
    tokenize(xml, c) {
      const valid = XMLValidator.validate(xml);
      if (valid !== true) throw new Error(valid.err.msg);
      const doc = fxp.parse(xml) as unknown;
      const walk = (node: unknown) => {
        if (Array.isArray(node)) {
          for (const n of node) walk(n);
          return;
        }
        if (node === null || typeof node !== 'object') return;
        for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
          if (key === ':@') c.attributes += Object.keys(value as object).length;
          else if (key === '#text') c.textChars += String(value).length;
          else {
            c.elements++;
            walk(value);
          }
        }
      };
      walk(doc);
    },
  },
  {
    name: 'libxml2-wasm 0.7.2 (DOM parse only)',
    kind: 'DOM, strict (libxml2); tree not walked',
    tokenize(xml) {
      XmlDocument.fromString(xml).dispose();
    },
  },
];

const fxp = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  preserveOrder: true,
  trimValues: false,
  htmlEntities: true,
  processEntities: true,
  parseTagValue: false,
});

/** Malformed inputs every strict XML parser must refuse. */
const STRICTNESS: [string, string][] = [
  ['unclosed tag', '<html><body><p>text</body></html>'],
  ['truncated', '<html><body><p>text</p>'],
  ['undefined entity', '<html><body><p>a&nbsp;b</p></body></html>'],
  ['bare &', '<html><body><p>a & b</p></body></html>'],
  ['invalid char U+0001', '<html><body><p>a\u0001b</p></body></html>'],
  ['unquoted attribute', '<html><body><p class=x>a</p></body></html>'],
];

async function sample(): Promise<string[]> {
  if (!corpusAvailable()) throw new Error(`the real sample archives are missing in ${CORPUS_DIR}`);
  const docs: string[] = [];
  let bytes = 0;
  for (const archive of CORPUS_ARCHIVES) {
    await readArchive(`${CORPUS_DIR}/${archive}`, {
      limits: { maxEntryBytes: 64 * 1024 * 1024, maxTotalBytes: 1024 * 1024 * 1024, maxEntries: 100_000 },
      onEntry: (path, body) => {
        if (!path.endsWith('.xml') || bytes >= LIMIT_MB * MB) return;
        bytes += body.size;
        docs.push(body.bytes().toString('utf8'));
      },
    });
  }
  return docs;
}

interface ChildResult {
  name: string;
  passesMs: number[];
  counts: Counts | null;
  error: string | null;
  strict: Record<string, boolean>;
  bytes: number;
}

/** Which of the malformed inputs the candidate rejects (throws on or reports an error for). */
function strictness(candidate: Candidate): Record<string, boolean> {
  const out: Record<string, boolean> = {};
  for (const [label, xml] of STRICTNESS) {
    let rejected = false;
    try {
      candidate.tokenize(xml, { elements: 0, attributes: 0, textChars: 0 });
    } catch {
      rejected = true;
    }
    out[label] = rejected;
  }
  return out;
}

/** In the child: one candidate, warm-up + PASSES timed passes over the sample, then strictness. */
async function child(name: string): Promise<void> {
  const candidate = CANDIDATES.find((c) => c.name === name)!;
  const docs = await sample();
  const bytes = docs.reduce((n, d) => n + Buffer.byteLength(d), 0);
  const result: ChildResult = { name, passesMs: [], counts: null, error: null, strict: {}, bytes };
  try {
    for (let pass = 0; pass <= PASSES; pass++) {
      const counts: Counts = { elements: 0, attributes: 0, textChars: 0 };
      const t0 = performance.now();
      for (const doc of docs) candidate.tokenize(doc, counts);
      const ms = performance.now() - t0;
      if (pass > 0) result.passesMs.push(ms);
      result.counts = counts;
    }
  } catch (err) {
    result.error = err instanceof Error ? err.message.split('\n')[0]! : String(err);
  }
  result.strict = strictness(candidate);
  process.stdout.write(`TOKENIZER-RESULT ${JSON.stringify(result)}\n`);
}

async function main(): Promise<void> {
  const results: ChildResult[] = [];
  for (const candidate of CANDIDATES) {
    log(`${candidate.name}...`);
    const proc = spawn(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', candidate.name],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const timer = setTimeout(() => proc.kill('SIGKILL'), TIMEOUT_S * 1000);
    const { code, stdout, stderr } = await collectOutput(proc);
    clearTimeout(timer);
    const line = stdout.split('\n').find((l) => l.startsWith('TOKENIZER-RESULT '));
    if (!line && code === null) {
      log(`  killed after ${TIMEOUT_S} s`);
      results.push({
        name: candidate.name,
        passesMs: [],
        counts: null,
        error: `no pass over the sample within ${TIMEOUT_S} s`,
        strict: strictness(candidate),
        bytes: 0,
      });
      continue;
    }
    if (code !== 0 || !line) throw new Error(`${candidate.name} exited ${code}: ${stderr.slice(-2000)}`);
    const r = JSON.parse(line.slice('TOKENIZER-RESULT '.length)) as ChildResult;
    results.push(r);
    if (r.passesMs.length) log(`  ${(r.bytes / MB / (summarise(r.passesMs).median / 1000)).toFixed(1)} MB/s`);
  }
  const reference = results[0]!.counts;
  const bytes = results[0]!.bytes;
  process.stdout.write(
    `\nbench/tokenizers: the real sample, ${(bytes / MB).toFixed(1)} MB of XML from in-memory strings; ` +
      `median of ${PASSES} passes after a warm-up, each candidate in its own process; ` +
      `"same reading" = the same elements, attributes and decoded text characters as saxes ` +
      `(${reference ? `${reference.elements} / ${reference.attributes} / ${reference.textChars}` : '-'})\n\n`,
  );
  const saxesMs = summarise(results[0]!.passesMs).median;
  printTable(
    [
      'tokenizer',
      'kind',
      'MB/s [min-max]',
      'x saxes',
      'same reading',
      ...STRICTNESS.map(([l]) => `rejects ${l}`),
    ],
    results.map((r) => {
      const cand = CANDIDATES.find((c) => c.name === r.name)!;
      if (r.error || r.passesMs.length === 0)
        return [
          r.name,
          cand.kind,
          `failed: ${r.error}`,
          '-',
          '-',
          ...STRICTNESS.map(([l]) => (r.strict[l] ? 'yes' : 'NO')),
        ];
      const s = summarise(r.passesMs);
      const mbps = (ms: number) => (r.bytes / MB / (ms / 1000)).toFixed(1);
      const same = cand.name.startsWith('libxml2')
        ? 'not counted'
        : r.counts &&
            reference &&
            r.counts.elements === reference.elements &&
            r.counts.attributes === reference.attributes &&
            r.counts.textChars === reference.textChars
          ? 'yes'
          : `no (${r.counts!.elements} / ${r.counts!.attributes} / ${r.counts!.textChars})`;
      return [
        r.name,
        cand.kind,
        `${mbps(s.median)} [${mbps(s.max)}-${mbps(s.min)}]`,
        (saxesMs / s.median).toFixed(2),
        same,
        ...STRICTNESS.map(([l]) => (r.strict[l] ? 'yes' : 'NO')),
      ];
    }),
  );
}

const at = process.argv.indexOf('--child');
if (at >= 0) await child(process.argv[at + 1]!);
else await main();
