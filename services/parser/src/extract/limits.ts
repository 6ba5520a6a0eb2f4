// Hard limits of the extractor (issue 17 point 9); beyond them a document is refused with a
// DocumentLimitError naming the limit.

/** Units (chapters, §§) nested deeper than this are refused (real documents: at most 8). */
export const MAX_SECTION_DEPTH = 32;
/** A heading path longer than this is refused (real documents: at most ~1,050). */
export const MAX_HEADING_PATH_CHARS = 8192;
/** Output characters (section texts, notes and heading paths, chunk texts and heading paths) per
 * input character beyond WORK_ALLOWANCE (real documents: at most 1.5). */
export const MAX_WORK_PER_INPUT_CHAR = 16;
export const WORK_ALLOWANCE = 4 * 1024 * 1024;
