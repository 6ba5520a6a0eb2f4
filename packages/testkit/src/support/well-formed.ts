import { XmlDocument } from 'libxml2-wasm';

/**
 * libxml2's verdict on a document: the library behind `xmllint --noout`, compiled to WebAssembly and
 * installed from npm (libxml2-wasm), so the check runs on every machine and is independent of the
 * parser under test. Returns the parse error, or null for a well-formed document.
 */
export function libxml2Error(content: Buffer | string): string | null {
  try {
    const doc =
      typeof content === 'string' ? XmlDocument.fromString(content) : XmlDocument.fromBuffer(content);
    doc.dispose();
    return null;
  } catch (err) {
    return (err as Error).message.trim() || String(err);
  }
}
