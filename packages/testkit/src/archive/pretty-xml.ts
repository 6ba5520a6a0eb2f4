/**
 * Re-serialises an XML document in the style of `xmllint --format`, in TypeScript (xmllint is not a
 * test requirement): an XML declaration, element-only content indented one element per line
 * (a line break and spaces before each child), content with any text node (even a single space)
 * left exactly as it is, every non-ASCII character written as a numeric character reference
 * (decimal in text, hexadecimal in attributes), empty elements self-closed. The infoset is the
 * same except for the added indentation. (xmllint --format also deletes whitespace-only text
 * between elements, e.g. the space in `<b>1.</b> <i>Lov</i>`, which changes the text; this
 * printer keeps it.)
 */
import { SaxesParser } from 'saxes';

export type Node = { kind: 'text'; text: string } | Element;
export interface Element {
  kind: 'element';
  name: string;
  attributes: Record<string, string>;
  children: Node[];
}

/** The document as a tree; `closed` may rewrite an element's children when its end tag is read. */
export function parseXmlTree(
  xml: string,
  closed?: (children: Node[]) => Node[],
): { doctype: string | null; root: Element } {
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
    if (closed) el.children = closed(el.children);
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
    else if (code > 127) out += `&#x${code.toString(16).toUpperCase()};`;
    else out += ch;
  }
  return out;
}

/**
 * Prints `el`: element-only content indented (two spaces per level), any content with a text node
 * printed exactly as it is, with nothing added anywhere below it.
 */
function serialise(el: Element, depth: number, indent: boolean, out: string[]): void {
  const attrs = Object.entries(el.attributes)
    .map(([k, v]) => ` ${k}="${escapeAttribute(v)}"`)
    .join('');
  if (el.children.length === 0) {
    out.push(`<${el.name}${attrs}/>`);
    return;
  }
  out.push(`<${el.name}${attrs}>`);
  const format = indent && el.children.every((c) => c.kind === 'element');
  for (const c of el.children) {
    if (format) out.push(`\n${'  '.repeat(depth + 1)}`);
    if (c.kind === 'text') out.push(escapeText(c.text));
    else serialise(c, depth + 1, format, out);
  }
  if (format) out.push(`\n${'  '.repeat(depth)}`);
  out.push(`</${el.name}>`);
}

/** A parsed document printed with an XML declaration, in the layout described above. */
export function printXmlTree(tree: { doctype: string | null; root: Element }): string {
  const out: string[] = ['<?xml version="1.0"?>\n'];
  if (tree.doctype !== null) out.push(`<!DOCTYPE${tree.doctype}>\n`);
  serialise(tree.root, 0, true, out);
  out.push('\n');
  return out.join('');
}

/** `xml` pretty-printed as `xmllint --format` would (see the module comment). */
export function prettyPrintXml(xml: string): string {
  return printXmlTree(parseXmlTree(xml));
}
