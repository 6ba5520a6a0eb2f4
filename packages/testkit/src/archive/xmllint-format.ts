/**
 * Re-serialises an XML document as `xmllint --format` (libxml2 with keepBlanks=0) does, in
 * TypeScript (xmllint is not a test requirement). Unlike pretty-xml.ts this also applies libxml2's
 * blank-node heuristic (parser.c areBlanks): a whitespace-only text node directly followed by a
 * tag is deleted unless it is its element's only content, or a text node came before it in that
 * element, or the element's first child is text. That deletes e.g. the space in
 * `<article><strong>Art 3.</strong> <i>Tittel</i>…`, which is how the issue's "1. Lov" vs "1.Lov"
 * arose. Then: an XML declaration, element-only content indented (two spaces per level), mixed
 * content printed as is, non-ASCII characters as numeric character references, empty elements
 * self-closed.
 */
import { SaxesParser } from 'saxes';

type Node = { kind: 'text'; text: string } | Element;
interface Element {
  kind: 'element';
  name: string;
  attributes: Record<string, string>;
  children: Node[];
}

const XML_BLANK = /^[ \t\r\n]+$/;

function parse(xml: string): { doctype: string | null; root: Element } {
  const parser = new SaxesParser({ xmlns: false });
  const stack: Element[] = [];
  let root: Element | null = null;
  let doctype: string | null = null;
  parser.on('doctype', (d) => (doctype = d));
  parser.on('opentag', (tag) => {
    const el: Element = {
      kind: 'element',
      name: tag.name,
      attributes: tag.attributes as Record<string, string>,
      children: [],
    };
    if (stack.length) stack[stack.length - 1]!.children.push(el);
    else root = el;
    stack.push(el);
  });
  parser.on('closetag', () => {
    const el = stack.pop()!;
    el.children = dropBlanks(el.children);
  });
  const onText = (text: string) => {
    if (!stack.length) return;
    const children = stack[stack.length - 1]!.children;
    const last = children[children.length - 1];
    if (last?.kind === 'text') last.text += text;
    else children.push({ kind: 'text', text });
  };
  parser.on('text', onText);
  parser.on('cdata', onText);
  parser.on('error', (err) => {
    throw err;
  });
  parser.write(xml).close();
  if (!root) throw new Error('no root element');
  return { doctype, root };
}

/** libxml2's areBlanks heuristic (no DTD), applied to an element's children in order. */
function dropBlanks(children: Node[]): Node[] {
  if (children.length === 1) return children; // whitespace as an element's only content stays
  const kept: Node[] = [];
  for (const child of children) {
    if (child.kind === 'text' && XML_BLANK.test(child.text)) {
      const last = kept[kept.length - 1];
      const first = kept[0];
      const keep = last !== undefined && (last.kind === 'text' || first?.kind === 'text');
      if (!keep) continue;
    }
    kept.push(child);
  }
  return kept;
}

function escapeText(s: string): string {
  let out = '';
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (ch === '&') out += '&amp;';
    else if (ch === '<') out += '&lt;';
    else if (ch === '>') out += '&gt;';
    else if (ch === '\r') out += '&#13;';
    else if (code > 127) out += `&#${code};`;
    else out += ch;
  }
  return out;
}

function escapeAttribute(s: string): string {
  let out = '';
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (ch === '&') out += '&amp;';
    else if (ch === '<') out += '&lt;';
    else if (ch === '"') out += '&quot;';
    else if (ch === '\n') out += '&#10;';
    else if (ch === '\r') out += '&#13;';
    else if (ch === '\t') out += '&#9;';
    else if (code > 127) out += `&#${code};`;
    else out += ch;
  }
  return out;
}

function serialise(el: Element, depth: number, indent: boolean, out: string[]): void {
  const attrs = Object.entries(el.attributes)
    .map(([k, v]) => ` ${k}="${escapeAttribute(v)}"`)
    .join('');
  if (el.children.length === 0) {
    out.push(`<${el.name}${attrs}/>`);
    return;
  }
  out.push(`<${el.name}${attrs}>`);
  // libxml2 formats an element's children only when none of them is text.
  const format = indent && el.children.every((c) => c.kind === 'element');
  for (const c of el.children) {
    if (format) out.push(`\n${'  '.repeat(depth + 1)}`);
    if (c.kind === 'text') out.push(escapeText(c.text));
    else serialise(c, depth + 1, format, out);
  }
  if (format) out.push(`\n${'  '.repeat(depth)}`);
  out.push(`</${el.name}>`);
}

/** `xml` as `xmllint --format` prints it (see the module comment). */
export function xmllintFormat(xml: string): string {
  const { doctype, root } = parse(xml);
  const out: string[] = ['<?xml version="1.0"?>\n'];
  if (doctype !== null) out.push(`<!DOCTYPE${doctype}>\n`);
  serialise(root, 0, true, out);
  out.push('\n');
  return out.join('');
}
