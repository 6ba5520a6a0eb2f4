/**
 * EUR-Lex consolidation markers in EEA regulations: `►M3 … ◄` (and `►B`, `►A1`, `►C2`, a bare `◄`)
 * frame the text an amending act (M3) inserted. They are typography of the consolidation, not
 * text: they are stripped from section text, titles and headings, and the ids of the opening
 * markers are kept per section as data (ExtractedSection.consolidationMarkers).
 *
 * Rule, on an already normalised line: `►` or `◄`, optional spaces, then an optional id: a capital
 * letter with digits (`M3`, `A1`; it may be glued to the next word, as in
 * `►<strong>M91</strong><i>Beta…`), or a lone capital letter (`B`, `E`) not followed by a letter
 * or digit.
 */
const MARKER = /[►◄] *(?:([A-Z]\d+)|([A-Z])(?![\p{L}\p{N}]))?/gu;

/** `line` without consolidation markers; the ids of opening markers are added to `ids`. */
export function stripConsolidationMarkers(line: string, ids: Set<string> | null): string {
  if (!line.includes('►') && !line.includes('◄')) return line;
  const stripped = line.replace(MARKER, (whole: string, numbered?: string, letter?: string) => {
    const id = numbered ?? letter;
    if (id !== undefined && ids !== null && whole.startsWith('►')) ids.add(id);
    return ' ';
  });
  return stripped.replace(/ {2,}/g, ' ').trim();
}
