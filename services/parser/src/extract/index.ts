export { extractDocument } from './document-extractor.ts';
export { DocumentLimitError, MalformedDocumentError } from './errors.ts';
export { DEFAULT_MAX_CHUNK_CHARS, estimateTokens, splitIntoChunks } from './chunker.ts';
export { normaliseLine, TextSink } from './text-normaliser.ts';
export { splitTarget } from './cross-references.ts';
export { MAX_SLICE } from './input-slices.ts';
export type { ExtractInput } from './input-slices.ts';
export type {
  CrossReferenceKind,
  ExtractOptions,
  ExtractedChunk,
  ExtractedCrossReference,
  ExtractedDocument,
  ExtractedSection,
  SectionKind,
} from './types.ts';
