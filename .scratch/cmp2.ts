import { readFileSync } from 'node:fs';
import { extractDocument } from '../services/parser/src/extract/index.ts';
import { prettyPrintXml } from '../test/archive/pretty-xml.ts';
const p = process.argv[2]!;
const xml = readFileSync(p, 'utf8');
const a = await extractDocument(xml); const b = await extractDocument(prettyPrintXml(xml));
for (let i = 0; i < a.sections.length; i++) { const x = a.sections[i]!.text, y = b.sections[i]!.text; if (x !== y) { let j = 0; while (x[j] === y[j]) j++; console.log(JSON.stringify(x.slice(j-80, j+80)), '\n', JSON.stringify(y.slice(j-80, j+80))); } }
