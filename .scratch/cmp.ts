import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { extractDocument } from '../services/parser/src/extract/index.ts';
import { prettyPrintXml } from '../test/archive/pretty-xml.ts';
function* walk(d: string): Generator<string> { for (const f of readdirSync(d)) { const p = join(d, f); if (statSync(p).isDirectory()) yield* walk(p); else if (p.endsWith('.xml')) yield p; } }
const only = process.argv[2];
let files = 0, bad = 0; const shown = new Map<string, number>();
for (const p of walk('/tmp/h12c')) {
  if (only && !p.includes(only)) continue;
  files++;
  const xml = readFileSync(p, 'utf8');
  const a = await extractDocument(xml); const b = await extractDocument(prettyPrintXml(xml));
  const diffs: string[] = [];
  for (const k of ['documentId','title','shortTitle','lastChangedBy','dateInForceRaw','lastChangeInForce','journalNumber','ministries','legalAreas','basedOn','changesDocuments'] as const)
    if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) diffs.push(`${k}: ${JSON.stringify(a[k])} | ${JSON.stringify(b[k])}`);
  if (a.sections.length !== b.sections.length) diffs.push(`sections ${a.sections.length} vs ${b.sections.length}`);
  for (let i = 0; i < Math.min(a.sections.length, b.sections.length); i++) {
    const x = a.sections[i]!, y = b.sections[i]!;
    for (const k of ['key','number','title','headingPath','text','notes','repealed'] as const)
      if (x[k] !== y[k]) { diffs.push(`${x.key} ${k}: ${JSON.stringify(x[k])?.slice(0,300)} | ${JSON.stringify(y[k])?.slice(0,300)}`); }
  }
  if (JSON.stringify(a.crossReferences) !== JSON.stringify(b.crossReferences)) diffs.push('xrefs differ');
  if (diffs.length) { bad++; if (bad <= 15) console.log(p, '\n  ' + diffs.slice(0, 4).join('\n  ')); }
}
console.log({ files, bad });
