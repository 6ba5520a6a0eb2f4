/**
 * Re-serialises an XML document as `xmllint --format` (libxml2 with keepBlanks=0) does, in
 * TypeScript (xmllint is not a test requirement). Unlike pretty-xml.ts this also applies libxml2's
 * blank-node heuristic (parser.c areBlanks): a whitespace-only text node directly followed by a
 * tag is deleted unless it is its element's only content, or a text node came before it in that
 * element, or the element's first child is text. That deletes e.g. the space in
 * `<article><strong>Art 3.</strong> <i>Tittel</i>…`, which is how the issue's "1. Lov" vs "1.Lov"
 * arose. Then: an XML declaration, element-only content indented (two spaces per level), mixed
 * content printed as is, non-ASCII characters as numeric character references, empty elements
 * self-closed (the printer of pretty-xml.ts).
 */
import { parseXmlTree, printXmlTree, type Node } from './pretty-xml.ts';

const XML_BLANK = /^[ \t\r\n]+$/;

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

/** `xml` as `xmllint --format` prints it (see the module comment). */
export function xmllintFormat(xml: string): string {
  return printXmlTree(parseXmlTree(xml, dropBlanks));
}
