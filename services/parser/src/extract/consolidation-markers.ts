/**
 * EUR-Lex consolidation markers in EEA regulations: `►M3 … ◄` (and `►B`, `►A1`, `►C2`, a bare `◄`)
 * frame the text an amending act (M3) inserted. They are typography of the consolidation, not
 * text: they are stripped from section text, titles and headings, and the ids of the opening
 * markers are kept per section as data (ExtractedSection.consolidationMarkers).
 *
 * Rule, on an already normalised line: `►` or `◄`, optional spaces, then an optional id that is
 * one capital letter and optional digits not followed by a letter or digit. Because a marker id
 * can be glued to the next word in the markup (`►<strong>M91</strong><i>Beta…`), the extractor's
 * inline-boundary space (see document-extractor text()) separates them first.
 */
const MARKER = /[►◄] *(?:([A-Z]\d*)(?![\p{L}\p{N}]))?/gu;

/** `line` without consolidation markers; the ids of opening markers are added to `ids`. */
export function stripConsolidationMarkers(line: string, ids: Set<string> | null): string {
  if (!line.includes('►') && !line.includes('◄')) return line;
  const stripped = line.replace(MARKER, (whole: string, id: string | undefined) => {
    if (id !== undefined && ids !== null && whole.startsWith('►')) ids.add(id);
    return ' ';
  });
  return stripped.replace(/ {2,}/g, ' ').trim();
}
