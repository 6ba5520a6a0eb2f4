/**
 * Archive entries made from the real Lovdata fixtures: the fixtures themselves, a synthetic corpus
 * of many distinct documents derived from them (for scale tests), and deterministic edits (for
 * change detection tests).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { contentBuffer } from './archive-entry.ts';
import type { ArchiveEntry } from './archive-entry.ts';
import { hashString, pickIndices, seededRandom } from './seeded-random.ts';

export const FIXTURE_DATASETS = ['gjeldende-lover', 'lovtidend-avd1-2025'] as const;
export type FixtureDataset = (typeof FIXTURE_DATASETS)[number];

const FIXTURES_DIR = fileURLToPath(new URL('../../../../test/fixtures/lovdata/', import.meta.url));

/** The real fixture files of a dataset, with their paths inside the real archive (`nl/<file>.xml`). */
export function fixtureEntries(dataset: FixtureDataset): ArchiveEntry[] {
  const root = join(FIXTURES_DIR, dataset);
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((dirent) => dirent.isFile())
    .map((dirent) => relative(root, join(dirent.parentPath, dirent.name)).split(sep).join('/'))
    .sort(comparePaths)
    .map((path) => ({ path, content: readFileSync(join(root, path)) }));
}

export function comparePaths(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The highest copy count for which every synthetic document keeps a unique, pattern-conform name. */
export const MAX_SYNTHETIC_COPIES = 1000;

export type SyntheticCorpusOptions = {
  /** How many copies of the 21 fixtures; copy 0 is the fixtures byte for byte. */
  copies: number;
  /** Seed of the edits; default 1. */
  seed?: number;
  /** Fraction of the corpus to edit like {@link editEntries} does (same selection for the same seed). */
  editFraction?: number;
};

/**
 * A Lovdata-like corpus of `copies * 21` distinct documents, generated lazily (memory stays at the
 * size of the fixtures). Copy k of `nl/nl-19990326-017.xml` is `nl/nl-19990326-<017+k>.xml` with
 * its identity (dokid, refid, legacyID, data-lovdata-URL and self links) renumbered to match and
 * " (kopi k)" appended to its title. Same options, byte-identical output.
 */
export function syntheticCorpus(options: SyntheticCorpusOptions): Iterable<ArchiveEntry> {
  const fixtures = allFixtures();
  const edited = editedCorpusIndices(options, fixtures.length);
  const seed = options.seed ?? 1;
  return (function* () {
    let index = 0;
    for (let copy = 0; copy < options.copies; copy++) {
      for (const fixture of fixtures) {
        const entry = copyOfFixture(fixture, copy);
        yield edited.has(index) ? { ...entry, content: editLedd(entry, seed)! } : entry;
        index++;
      }
    }
  })();
}

/** The paths {@link syntheticCorpus} edits for these options, without generating the corpus. */
export function syntheticCorpusEditedPaths(options: SyntheticCorpusOptions): string[] {
  const fixtures = allFixtures();
  return [...editedCorpusIndices(options, fixtures.length)].map((index) => {
    const copy = Math.floor(index / fixtures.length);
    return copyPath(fixtures[index % fixtures.length]!, copy);
  });
}

/**
 * Edits `round(fraction * entries.length)` of the entries, chosen by seed: one ledd
 * (`article.legalP`) of each gets a sentence prepended, so the file stays well-formed XML and
 * exactly one section's text changes. Only XML entries with a ledd and in-memory content qualify.
 */
export function editEntries(
  entries: ArchiveEntry[],
  fraction: number,
  seed = 1,
): { entries: ArchiveEntry[]; edited: string[] } {
  const eligible = entries.flatMap((entry, index) => (editLedd(entry, seed) ? [index] : []));
  const count = Math.round(fraction * entries.length);
  if (count > eligible.length) {
    throw new Error(`cannot edit ${count} of ${entries.length} entries: only ${eligible.length} have a ledd`);
  }
  const chosen = new Set(pickIndices(eligible.length, count, seed).map((i) => eligible[i]!));
  const result = entries.map((entry, index) =>
    chosen.has(index) ? { ...entry, content: editLedd(entry, seed)! } : entry,
  );
  return { entries: result, edited: [...chosen].map((index) => entries[index]!.path) };
}

/** The text every edit starts with, so tests can find edits. */
export const EDIT_MARKER = 'Endret ved syntetisk endring';

const LEGAL_P_OPENING_TAG = /<article\b[^>]*\bclass="legalP"[^>]*>/g;

/** The entry's content with one ledd edited (chosen by seed and path), or null if it has none. */
function editLedd(entry: ArchiveEntry, seed: number): Buffer | null {
  const buffer = contentBuffer(entry);
  if (!buffer || !entry.path.endsWith('.xml')) return null;
  const xml = buffer.toString('utf8');
  const openings = [...xml.matchAll(LEGAL_P_OPENING_TAG)].filter((match) => !match[0].endsWith('/>'));
  if (openings.length === 0) return null;
  const random = seededRandom(hashString(`${seed}:${entry.path}`));
  const opening = openings[Math.floor(random() * openings.length)]!;
  const tag = Math.floor(random() * 0xffffffff)
    .toString(16)
    .padStart(8, '0');
  const at = opening.index + opening[0].length;
  return Buffer.from(`${xml.slice(0, at)}${EDIT_MARKER} ${tag}. ${xml.slice(at)}`, 'utf8');
}

function editedCorpusIndices(options: SyntheticCorpusOptions, fixtureCount: number): Set<number> {
  const { copies, editFraction = 0 } = options;
  if (!Number.isInteger(copies) || copies < 1 || copies > MAX_SYNTHETIC_COPIES) {
    throw new Error(`copies must be an integer in 1..${MAX_SYNTHETIC_COPIES}, got ${copies}`);
  }
  if (!(editFraction >= 0 && editFraction <= 1))
    throw new Error(`editFraction must be in 0..1, got ${editFraction}`);
  const total = copies * fixtureCount;
  return new Set(pickIndices(total, Math.round(editFraction * total), options.seed ?? 1));
}

// --- document identity -------------------------------------------------------------------------

/**
 * A fixture split at the places that differ between copies: occurrences of its refid (which also
 * covers the dokid `NL/lov/...`, main@data-lovdata-URL and self links) and legacyID, and the ends
 * of its three titles. Rendering a copy is then a join, not a regex pass over the document.
 */
type Fixture = { dir: string; identity: DocumentIdentity; pieces: string[]; slots: Slot[] };
type Slot = 'refid' | 'legacyId' | 'titleMark';

/** What a Lovdata file name encodes: `nl-19990326-017.xml` is `lov/1999-03-26-17`. */
type DocumentIdentity = { flavour: 'nl' | 'sf'; date: string; number: number; digits: number };

const FILE_NAME = /^(nl|sf)-(\d{8})-(\d+)\.xml$/;
const FLAVOURS = { nl: { kind: 'lov', legacy: 'LOV' }, sf: { kind: 'forskrift', legacy: 'FOR' } } as const;
const TITLES = [
  ['<title>', '</title>'],
  ['<dd class="title">', '</dd>'],
  ['<h1', '</h1>'],
] as const;

let fixturesCache: Fixture[] | undefined;

function allFixtures(): Fixture[] {
  fixturesCache ??= FIXTURE_DATASETS.flatMap((dataset) => fixtureEntries(dataset).map(toFixture));
  return fixturesCache;
}

function toFixture(entry: ArchiveEntry): Fixture {
  const slash = entry.path.lastIndexOf('/');
  const identity = parseFileName(entry.path.slice(slash + 1));
  const xml = contentBuffer(entry)!.toString('utf8');
  const cuts: { start: number; end: number; slot: Slot }[] = [];
  // The lookahead keeps `lov/1961-05-05` from matching another law of that date (`lov/1961-05-05-3`).
  for (const [slot, value] of [
    ['refid', refid(identity)],
    ['legacyId', legacyId(identity)],
  ] as const) {
    const pattern = new RegExp(`${value.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}(?![\\d-])`, 'g');
    for (const match of xml.matchAll(pattern))
      cuts.push({ start: match.index, end: match.index + value.length, slot });
  }
  for (const [open, close] of TITLES) {
    const start = xml.indexOf(open);
    const end = start < 0 ? -1 : xml.indexOf(close, start);
    if (end < 0) throw new Error(`${entry.path}: no ${open}...${close} title`);
    cuts.push({ start: end, end, slot: 'titleMark' });
  }
  cuts.sort((a, b) => a.start - b.start);
  const pieces: string[] = [];
  let position = 0;
  for (const cut of cuts) {
    pieces.push(xml.slice(position, cut.start));
    position = cut.end;
  }
  pieces.push(xml.slice(position));
  return { dir: entry.path.slice(0, slash), identity, pieces, slots: cuts.map((cut) => cut.slot) };
}

function copyOfFixture(fixture: Fixture, copy: number): ArchiveEntry {
  const identity = renumbered(fixture.identity, copy);
  const values: Record<Slot, string> = {
    refid: refid(identity),
    legacyId: legacyId(identity),
    titleMark: copy === 0 ? '' : ` (kopi ${copy})`,
  };
  const xml = fixture.pieces.reduce((text, piece, i) => text + values[fixture.slots[i - 1]!] + piece);
  return { path: copyPath(fixture, copy), content: Buffer.from(xml, 'utf8') };
}

function copyPath(fixture: Fixture, copy: number): string {
  return `${fixture.dir}/${fileName(renumbered(fixture.identity, copy))}`;
}

function parseFileName(name: string): DocumentIdentity {
  const match = FILE_NAME.exec(name);
  if (!match) throw new Error(`not a Lovdata file name: ${name}`);
  const [, flavour, date, number] = match as unknown as [string, 'nl' | 'sf', string, string];
  return { flavour, date, number: Number(number), digits: number.length };
}

function renumbered(identity: DocumentIdentity, copy: number): DocumentIdentity {
  return { ...identity, number: (identity.number + copy) % 10 ** identity.digits };
}

function fileName(identity: DocumentIdentity): string {
  return `${identity.flavour}-${identity.date}-${String(identity.number).padStart(identity.digits, '0')}.xml`;
}

/** `lov/1999-03-26-17`; a document numbered 0 has no number (`lov/1961-05-05`). */
function refid(identity: DocumentIdentity): string {
  return `${FLAVOURS[identity.flavour].kind}/${dashedDateAndNumber(identity)}`;
}

function legacyId(identity: DocumentIdentity): string {
  return `${FLAVOURS[identity.flavour].legacy}-${dashedDateAndNumber(identity)}`;
}

function dashedDateAndNumber({ date, number }: DocumentIdentity): string {
  const dashed = `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}`;
  return number === 0 ? dashed : `${dashed}-${number}`;
}
