import { normaliseKey } from './section-keys.ts';
import type { CrossReferenceKind } from './types.ts';

/** Amendment attributes on `article.change` and the kind each one produces. Lovdata writes
 * `data-change-part`, `data-add-new-part` and `data-move-part`; the `data-change-*` spellings of
 * the others are accepted too. */
export const AMEND_ATTRIBUTES: ReadonlyArray<readonly [string, CrossReferenceKind]> = [
  ['data-change-part', 'amend_change'],
  ['data-change-add-new-part', 'amend_add'],
  ['data-add-new-part', 'amend_add'],
  ['data-change-repeal-part', 'amend_repeal'],
  ['data-repeal-part', 'amend_repeal'],
  ['data-change-move-part', 'amend_move'],
  ['data-move-part', 'amend_move'],
];

const REF_IN_TEXT = /[a-z][a-z0-9-]*\/\d{4}-\d{2}-\d{2}(?:-\d+)?(?:\/[^\s,;]+)?/g;
const ISO_DATE = /\d{4}-\d{2}-\d{2}/g;
const DOCUMENT_HREF = /^[a-z][a-z0-9-]*\/[^/]/i;

/** 'lov/2013-06-21-100/§5-7' -> { targetRefid: 'lov/2013-06-21-100', targetPart: '§5-7' }. The
 * refid is the first two path segments; the part is the rest (null when there is none). Both are
 * normalised like section keys (section-keys.ts: `§9‑4a` -> `§9-4a`), so they join to keys; a
 * refid without a number (`lov/1967-02-10`) is a refid like any other. */
export function splitTarget(raw: string): { targetRefid: string | null; targetPart: string | null } {
  const first = raw.indexOf('/');
  if (first <= 0) return { targetRefid: null, targetPart: null };
  const second = raw.indexOf('/', first + 1);
  if (second < 0) return { targetRefid: normaliseKey(raw), targetPart: null };
  const part = normaliseKey(raw.slice(second + 1));
  return { targetRefid: normaliseKey(raw.slice(0, second)), targetPart: part === '' ? null : part };
}

/** A usable reference value: not empty, not the literal 'null'. */
export function isUsableRef(value: string): boolean {
  return value !== '' && value !== 'null' && value !== 'undefined';
}

/** Whether an `<a href>` points at a Lovdata document ('lov/…', 'forskrift/…', 'forarbeid/…'),
 * as opposed to an in-page anchor, an absolute URL or a legal-area page. */
export function isDocumentHref(href: string): boolean {
  return DOCUMENT_HREF.test(href) && !href.startsWith('legal-areas/') && !href.includes(':');
}

/** Normalise an amendment attribute value: collapse whitespace, glue 'a;; b' to 'a;;b', and split
 * into its space-separated targets (a move target stays 'from;;to'). */
export function amendTargets(value: string): { raw: string; targets: string[]; first: string | null } {
  const raw = value
    .replace(/\s*;;\s*/g, ';;')
    .replace(/\s+/g, ' ')
    .trim();
  const targets = raw === '' ? [] : raw.split(' ').filter(isUsableRef);
  const head = targets[0];
  const first = head === undefined ? null : head.split(';;')[0] || null;
  return { raw, targets, first };
}

/** Document references ('lov/2024-06-25-53', 'forskrift/…/§4') written in a piece of text. */
export function refsInText(text: string): string[] {
  return text.match(REF_IN_TEXT) ?? [];
}

/** ISO dates (YYYY-MM-DD) in a piece of text, in order. */
export function isoDatesIn(text: string): string[] {
  return text.match(ISO_DATE) ?? [];
}
