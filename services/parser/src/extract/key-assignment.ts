import { normaliseKey } from './section-keys.ts';
import type { SectionKind } from './types.ts';
import type { Unit } from './unit.ts';

/**
 * Section keys, unique within a document: § = normalised legalArticle@data-name; a future § its
 * data-name, or 'future:§5' when a current § has the same name (the current § keeps the plain
 * name whichever comes first); chapter = normalised last segment of data-lovdata-URL; duplicates
 * get '~2', '~3'. Text-block keys are given at result assembly. Normalisation: section-keys.ts.
 */
export class KeyAssigner {
  private readonly keys = new Map<string, Unit>();
  private readonly suffixes = new Map<string, number>();
  private counter = 0;

  /** The key of a new unit (see ExtractedSection.key); records the raw attribute on the unit. */
  assign(kind: SectionKind, unit: Unit, attrs: Record<string, string>): string {
    const n = this.counter++;
    const keys = this.keys;
    let key: string;
    if (kind === 'chapter') {
      const raw = lastSegment(attrs['data-lovdata-URL']) ?? (attrs['data-name'] || null);
      unit.dataName = raw;
      key = this.uniqueKey(keyOf(raw) ?? `section-${n}`);
    } else if (kind === 'article') {
      const raw = attrs['data-name'] || lastSegment(attrs['data-lovdata-URL']) || null;
      unit.dataName = raw;
      const base = keyOf(raw) ?? `article-${n}`;
      const holder = keys.get(base);
      if (holder !== undefined && holder.kind === 'future_article') {
        // A current § takes its plain name; the not-yet-in-force text moves aside.
        holder.key = this.uniqueKey(`future:${base}`);
        keys.set(holder.key, holder);
        key = base;
      } else {
        key = this.uniqueKey(base);
      }
    } else {
      const raw = attrs['data-name'] || null;
      unit.dataName = raw;
      const base = keyOf(raw) ?? `future-${n}`;
      const holder = keys.get(base);
      key = this.uniqueKey(holder !== undefined && holder.kind === 'article' ? `future:${base}` : base);
    }
    keys.set(key, unit);
    return key;
  }

  /** `base`, or `base~2`, `base~3` … when taken (a per-base counter keeps this O(1)). */
  private uniqueKey(base: string): string {
    if (!this.keys.has(base)) return base;
    for (let i = this.suffixes.get(base) ?? 2; ; i++) {
      const candidate = `${base}~${i}`;
      if (!this.keys.has(candidate)) {
        this.suffixes.set(base, i + 1);
        return candidate;
      }
    }
  }
}

/** The key of a raw key attribute (see section-keys.ts); null when nothing is left. */
export function keyOf(raw: string | null): string | null {
  if (raw === null) return null;
  const key = normaliseKey(raw);
  return key === '' ? null : key;
}

function lastSegment(url: string | undefined): string | null {
  if (url === undefined || url === '') return null;
  const seg = url.slice(url.lastIndexOf('/') + 1);
  return seg === '' ? null : seg;
}
