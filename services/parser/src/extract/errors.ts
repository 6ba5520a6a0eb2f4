/** The input is not a document this extractor accepts (not well-formed XML, a DTD with entity
 * declarations, invalid UTF-8, no dokid, empty input). */
export class MalformedDocumentError extends Error {
  override readonly name: string = 'MalformedDocumentError';
  readonly line: number | null;
  readonly column: number | null;

  constructor(message: string, position?: { line: number; column: number }, options?: { cause?: unknown }) {
    super(position ? `${message} (line ${position.line}, column ${position.column})` : message, options);
    this.line = position?.line ?? null;
    this.column = position?.column ?? null;
  }
}

/** The document is well-formed but over one of the extractor's hard limits (nesting depth, heading
 * path length, work per document): refused like malformed input, with the limit named. */
export class DocumentLimitError extends MalformedDocumentError {
  override readonly name = 'DocumentLimitError';
}
