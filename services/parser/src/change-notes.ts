/**
 * The amendment entries of a § 's changesToParent note, as the extractor keeps it (links replaced
 * by their text): "Endret ved lover 25 juni 1999 nr. 46 (ikr. 25 juni 1999 iflg. res. ...), 16 jan
 * 2009 nr. 6 (ikr. 1 sep 2009 ...)." Each entry: the amending act as a refid (`lov/2009-01-16-6`,
 * the kind from the nearest "lov"/"lover"/"forskrift(er)" before it), its in-force date and the raw
 * entry text. An entry without an "(ikr. DATE)" or with an unreadable date is skipped.
 */
export interface ChangeNoteEntry {
  act: string;
  inForce: string;
  raw: string;
}

const MONTHS: Record<string, number> = {
  jan: 1,
  januar: 1,
  feb: 2,
  februar: 2,
  mars: 3,
  mar: 3,
  apr: 4,
  april: 4,
  mai: 5,
  juni: 6,
  jun: 6,
  juli: 7,
  jul: 7,
  aug: 8,
  august: 8,
  sep: 9,
  sept: 9,
  september: 9,
  okt: 10,
  oktober: 10,
  nov: 11,
  november: 11,
  des: 12,
  desember: 12,
};

const DATE = String.raw`(\d{1,2})\.? ([a-zæøå]+)\.? (\d{4})`;
const ENTRY = new RegExp(String.raw`${DATE} nr\. ?(\d+) \(ikr\. ${DATE}`, 'giu');
const KIND = /\b(lov|lover|lova|forskrift|forskrifter|forskrifta)\b/giu;

function isoDate(day: string, month: string, year: string): string | null {
  const m = MONTHS[month.toLowerCase()];
  const d = Number(day);
  if (!m || d < 1 || d > 31) return null;
  const iso = `${year}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
  const t = new Date(`${iso}T00:00:00Z`);
  return Number.isNaN(t.getTime()) || t.toISOString().slice(0, 10) !== iso ? null : iso;
}

export function parseChangeNotes(notes: string | null): ChangeNoteEntry[] {
  if (!notes) return [];
  const out: ChangeNoteEntry[] = [];
  for (const m of notes.matchAll(ENTRY)) {
    const at = m.index;
    let kind: string | null = null;
    for (const k of notes.slice(0, at).matchAll(KIND)) kind = k[1]!.toLowerCase();
    if (!kind) continue;
    const actDate = isoDate(m[1]!, m[2]!, m[3]!);
    const inForce = isoDate(m[5]!, m[6]!, m[7]!);
    if (!actDate || !inForce) continue;
    const end = notes.indexOf(')', at);
    out.push({
      act: `${kind.startsWith('lov') ? 'lov' : 'forskrift'}/${actDate}-${Number(m[4])}`,
      inForce,
      raw: notes.slice(at, end < 0 ? undefined : end + 1),
    });
  }
  return out;
}

/** The entry with the latest in-force date (the last one among equals: notes list them in order). */
export function latestChange(entries: ChangeNoteEntry[]): ChangeNoteEntry | null {
  let best: ChangeNoteEntry | null = null;
  for (const e of entries) if (!best || e.inForce >= best.inForce) best = e;
  return best;
}

/** The refid at the start of a document's lastChangedBy (`lov/2024-06-25-53 fra 2024-07-01`). */
export function lastChangedByAct(v: string | null): string | null {
  const m = v?.match(/^\s*((?:lov|forskrift)\/\d{4}-\d{2}-\d{2}(?:-\d+)?)/);
  return m ? m[1]! : null;
}
