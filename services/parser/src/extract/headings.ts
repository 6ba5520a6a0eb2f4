/** Chapter-like heading words followed by a number: 'Kapittel 4', 'Kap. IV', 'Del II', 'Vedlegg A',
 * 'AVSNITT 2', '1ste kapitel'. */
const NUMBERED_HEADING =
  /^((?:kapittel|kapitel|kap\.|del|vedlegg|avsnitt|bilag|tillegg|avdeling|afsnit|afsnitt|part|chapter|annex|section)\s+(?:\d+(?:\s?[A-Za-z](?![A-Za-zÆØÅæøå]))?(?:[-.]\d+[A-Za-z]?)*|[IVXLCDM]+|[A-Za-z])|\d+\s*[a-zæøå]*\s+kapit+e?l)(?:\.\s*|\s+|$)(.*)$/i;
/** A heading that is only a Roman numeral ('I', 'II.'). */
const ROMAN_ONLY = /^([IVXLCDM]+)\.?$/;

/**
 * Split a chapter heading (its lines, split at `<br/>`) into number and title:
 * 'Kapittel 1. Alminnelige bestemmelser' -> 'Kapittel 1' + 'Alminnelige bestemmelser';
 * ['KAPITTEL I', 'ALMINNELIGE BESTEMMELSER'] -> 'KAPITTEL I' + 'ALMINNELIGE BESTEMMELSER';
 * 'II' -> 'II' + null; 'Ålmenne føresegner.' -> null + 'Ålmenne føresegner.'.
 */
export function splitChapterHeading(lines: readonly string[]): {
  number: string | null;
  title: string | null;
} {
  const first = lines[0];
  if (first === undefined) return { number: null, title: null };
  const rest = lines.slice(1).join(' ');
  const roman = ROMAN_ONLY.exec(first);
  if (roman) return { number: roman[1] as string, title: rest === '' ? null : rest };
  const m = NUMBERED_HEADING.exec(first);
  if (m) {
    const title = [m[2] ?? '', rest].filter((s) => s !== '').join(' ');
    return { number: m[1] as string, title: title === '' ? null : title };
  }
  return { number: null, title: lines.join(' ') };
}

/** A § heading as printed: '§ 13-2. Husleietvistutvalget', or whichever of the two exists. */
export function articleHeading(number: string | null, title: string | null): string {
  if (number !== null && title !== null) return `${number}. ${title}`;
  return number ?? title ?? '';
}

const REPEALED_TITLE = /\((?:opphevet|oppheva|oppheve)\)/i;

/** '(Opphevet)' / '(Oppheva)' in a title or heading. */
export function isRepealedTitle(title: string | null): boolean {
  return title !== null && REPEALED_TITLE.test(title);
}
