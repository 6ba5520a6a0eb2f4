/**
 * Issue 12 point 5: archive entries with pax long names. Lovdata's own archives use short names
 * (the sample in ../shared/corpus has none over 100 bytes), but a tar written by GNU tar / bsdtar
 * in pax format carries any name over 100 bytes (or not fitting the ustar prefix split, or not
 * ASCII) in a pax extended header; the ustar header then holds a truncated placeholder. The sync's
 * archive reader must use the pax name — for accepting the entry and for refusing it.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readArchive } from '../../services/sync/src/archive-entries.ts';
import { buildTarBz2 } from '@lovsync/testkit/archive/archive-builder';

const LIMITS = { maxEntryBytes: 1 << 30, maxTotalBytes: 1 << 30, maxEntries: 1000 };
const LAW = new URL('../fixtures/lovdata/gjeldende-lover/nl/nl-19610505-000.xml', import.meta.url);

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'lovsync-pax-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('tar entries with pax long names', () => {
  it('are read under their full pax name, byte for byte', async () => {
    const law = await readFile(LAW);
    const names = [
      // > 256 bytes: no ustar prefix/name split possible
      `lti/2024/${'a'.repeat(150)}/${'b'.repeat(120)}/nl-19610505-000.xml`,
      // one path component over 100 bytes
      `nl/${'c'.repeat(140)}.xml`,
      // non-ASCII, over 100 bytes in UTF-8
      `nl/${'grannegjerdelova-æøå-'.repeat(6)}nl-19610505-000.xml`,
      'nl/nl-19610505-000.xml',
    ];
    const file = join(tmp, 'pax.tar.bz2');
    await buildTarBz2(
      names.map((path) => ({ path, content: law })),
      file,
    );
    const raw = (await readFile(file)).length;
    expect(raw).toBeGreaterThan(0);
    const seen: Array<[string, number, boolean]> = [];
    const result = await readArchive(file, {
      limits: LIMITS,
      onEntry: (path, body) => void seen.push([path, body.size, body.bytes().equals(law)]),
    });
    expect(result.refused).toEqual([]);
    expect(seen).toEqual(names.map((n) => [n, law.length, true]));
  });

  it('a hostile pax name is refused by that name, not accepted under the ustar placeholder', async () => {
    const hostile = `nl/${'d'.repeat(120)}/../../../../etc/${'e'.repeat(110)}.xml`;
    const file = join(tmp, 'pax-hostile.tar.bz2');
    await buildTarBz2(
      [
        { path: hostile, content: 'x' },
        { path: 'nl/ok.xml', content: 'y' },
      ],
      file,
    );
    const accepted: string[] = [];
    const result = await readArchive(file, {
      limits: LIMITS,
      onEntry: (path) => void accepted.push(path),
    });
    expect(accepted).toEqual(['nl/ok.xml']);
    expect(result.refused).toEqual([{ path: hostile, reason: 'path escapes its directory (..)' }]);
  });
});
