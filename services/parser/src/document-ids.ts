import type { ExtractedDocument } from './extract/index.ts';

/**
 * The extractor version recorded on every document it derived (documents.extractor_version). Bump
 * it whenever the extractor's output (sections, texts, keys, chunks, cross-references) changes for
 * the same input, then roll the change out with `lovsync reparse --all`.
 */
export const EXTRACTOR_VERSION = '2026-12-02.1';

/**
 * A file name with a language suffix after Lovdata's numeric stem (`nl-18140517-000-nn.xml`,
 * `sf-20010101-0001-en.xml`): a language version of the document whose file is the same name
 * without the suffix. Both carry the same dokid.
 */
const LANGUAGE_SUFFIX = /\d-([a-z]{2,3})\.xml$/i;

/** The language suffix of a file name (lower case), or null. */
export function languageSuffix(path: string): string | null {
  const m = LANGUAGE_SUFFIX.exec(path);
  return m ? m[1]!.toLowerCase() : null;
}

/**
 * The storage key (documents.document_id) of the document a file carries: its dokid, or
 * `${dokid}@${lang}` for a language twin, recognised by the language suffix of its file name
 * (`NL/lov/1814-05-17@nn` for `nl/nl-18140517-000-nn.xml`). The bokmål original keeps the bare
 * dokid, so ids of existing documents and cross-references never change. Derived from the file
 * alone, so it does not depend on which twin is parsed first.
 */
export function storageDocumentId(dokid: string, path: string): string {
  const lang = languageSuffix(path);
  return lang ? `${dokid}@${lang}` : dokid;
}

/** The extracted document under its storage key (chunk ids carry the document id as their prefix). */
export function withStorageId(doc: ExtractedDocument, path: string): ExtractedDocument {
  const id = storageDocumentId(doc.documentId, path);
  if (id === doc.documentId) return doc;
  const prefix = `${doc.documentId}/`;
  return {
    ...doc,
    documentId: id,
    chunks: doc.chunks.map((c) => ({
      ...c,
      chunkId: c.chunkId.startsWith(prefix)
        ? `${id}/${c.chunkId.slice(prefix.length)}`
        : `${id}/${c.chunkId}`,
    })),
  };
}
