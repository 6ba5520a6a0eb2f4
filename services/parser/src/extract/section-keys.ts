/**
 * Section key normalisation. A key comes from markup that Lovdata re-types between releases without
 * meaning a different § (`data-name="§9‑4a"` with U+2011 NON-BREAKING HYPHEN became `§9-4a`), so
 * the key is the attribute value normalised as follows (the raw value stays in
 * ExtractedSection.dataName):
 *
 * 1. Unicode NFC (composed and decomposed `å` are one key).
 * 2. Invisible characters are deleted: U+00AD SOFT HYPHEN, U+200B-U+200D zero-width space /
 *    non-joiner / joiner, U+2060 WORD JOINER, U+FEFF zero-width no-break space.
 * 3. Every hyphen and dash variant becomes U+002D `-`: U+2010 HYPHEN, U+2011 NON-BREAKING HYPHEN,
 *    U+2012 FIGURE DASH, U+2013 EN DASH, U+2014 EM DASH, U+2015 HORIZONTAL BAR, U+2043 HYPHEN
 *    BULLET, U+2212 MINUS SIGN, U+FE58, U+FE63, U+FF0D.
 * 4. Every whitespace character is deleted (ASCII space, tab, line breaks, U+00A0 NBSP, U+2000-
 *    U+200A incl. U+2007 FIGURE SPACE and U+2009 THIN SPACE, U+202F NARROW NBSP, U+205F, U+3000,
 *    U+1680): real keys never contain spaces (`§13-2`, `KAPITTEL_4-1`), so `§ 13-2` is `§13-2`.
 *
 * Section keys, cross-reference target parts (`lov/…/§9‑4a` -> `§9-4a`) and amendment targets
 * use the same rule, so references keep joining to sections. The rule is idempotent.
 */
const DASHES = /[\u2010-\u2015\u2043\u2212\uFE58\uFE63\uFF0D]/g;
const DELETED = /[\s\u00AD\u200B-\u200D\u2060\uFEFF]/g;
/** Anything the rule would change besides NFC: non-ASCII or ASCII whitespace. */
const MAY_CHANGE = /[^\x21-\x7E]/;

export function normaliseKey(raw: string): string {
  if (!MAY_CHANGE.test(raw)) return raw;
  return raw.normalize('NFC').replace(DELETED, '').replace(DASHES, '-');
}
