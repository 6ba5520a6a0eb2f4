import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  buildTarBz2,
  editEntries,
  FIXTURE_DATASETS,
  fixtureEntries,
  syntheticCorpus,
  type ArchiveEntry,
} from '@lovsync/testkit/archive/archive-builder';
import { contentSize } from '@lovsync/testkit/archive/archive-entry';
import { log } from './stats.ts';

/** Copies per fixture by its size, so that a corpus has the shape of a real archive. */
export type Tiers = readonly { maxBytes: number; copies: number }[];

export interface CorpusMeta {
  files: number;
  bytes: number;
  edited: number;
  coldArchiveBytes: number;
  editedArchiveBytes: number;
}

/** The synthetic corpus thinned per fixture by `tiers`; every document keeps a distinct identity. */
export function* tieredCorpus(tiers: Tiers): Generator<ArchiveEntry> {
  const fixtures = FIXTURE_DATASETS.flatMap((dataset) => fixtureEntries(dataset));
  const copiesOf = fixtures.map((f) => tiers.find((t) => contentSize(f) <= t.maxBytes)!.copies);
  const maxCopies = Math.max(...copiesOf);
  let index = 0;
  for (const entry of syntheticCorpus({ copies: maxCopies })) {
    const fixture = index % fixtures.length;
    const copy = Math.floor(index / fixtures.length);
    // syntheticCorpus yields copy after copy in fixture order; copy 0 is the fixtures themselves.
    if (copy === 0 && entry.path !== fixtures[fixture]!.path) throw new Error('unexpected corpus order');
    if (copy < copiesOf[fixture]!) yield entry;
    index++;
  }
}

/** Builds `<dir>/cold/<dataset>` and `<dir>/edited/<dataset>` (the same corpus with a fraction edited). */
export async function buildCorpusPair(
  dir: string,
  p: { label: string; tiers: Tiers; dataset: string; editFraction: number; editSeed: number },
): Promise<CorpusMeta> {
  log(`building the ${p.label} corpus (cached in bench/.work/${p.label})...`);
  await mkdir(join(dir, 'cold'));
  await mkdir(join(dir, 'edited'));
  const entries = [...tieredCorpus(p.tiers)];
  const { entries: editedEntries, edited } = editEntries(entries, p.editFraction, p.editSeed);
  const cold = await buildTarBz2(entries, join(dir, 'cold', p.dataset));
  const changed = await buildTarBz2(editedEntries, join(dir, 'edited', p.dataset));
  return {
    files: entries.length,
    bytes: entries.reduce((n, e) => n + contentSize(e), 0),
    edited: edited.length,
    coldArchiveBytes: cold.bytes,
    editedArchiveBytes: changed.bytes,
  };
}
