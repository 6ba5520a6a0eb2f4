/** The input is not a document this extractor accepts (not well-formed XML, a DTD with entity
 * declarations, invalid UTF-8, no dokid, empty input). */
export class MalformedDocumentError extends Error {
  override readonly name = 'MalformedDocumentError';
  readonly line: number | null;
  readonly column: number | null;

  constructor(message: string, position?: { line: number; column: number }, options?: { cause?: unknown }) {
    super(position ? `${message} (line ${position.line}, column ${position.column})` : message, options);
    this.line = position?.line ?? null;
    this.column = position?.column ?? null;
  }
}
