/** Hostile archive entries and damaged archives, for tests of the download and extraction guards. */
import { open, stat, truncate } from 'node:fs/promises';
import type { ArchiveEntry } from './archive-entry.ts';

const BOMB_PREFIX = '<!DOCTYPE html><html lang="no"><head><title>Bombe</title></head><body><main><p>';
const BOMB_SUFFIX = '</p></main></body></html>';
const BOMB_CHUNK_SIZE = 1 << 20;

/**
 * One huge, highly compressible XML file (`sizeBytes` in total), generated on demand: it is never
 * held in memory, and bzip2 compresses 1 GiB of it to well under 1 MB.
 */
export function bombEntry(sizeBytes: number, path = 'nl/nl-20991231-999.xml'): ArchiveEntry {
  const fillerBytes = sizeBytes - BOMB_PREFIX.length - BOMB_SUFFIX.length;
  if (fillerBytes < 0)
    throw new Error(`a bomb needs at least ${BOMB_PREFIX.length + BOMB_SUFFIX.length} bytes`);
  return {
    path,
    content: {
      size: sizeBytes,
      async *open() {
        yield Buffer.from(BOMB_PREFIX);
        const chunk = Buffer.alloc(BOMB_CHUNK_SIZE, 'a');
        for (let left = fillerBytes; left > 0; left -= chunk.length) {
          yield left >= chunk.length ? chunk : chunk.subarray(0, left);
        }
        yield Buffer.from(BOMB_SUFFIX);
      },
    },
  };
}

/** Entries that must never be written outside the extraction target or followed. */
export function hostileEntries() {
  return {
    parentTraversal: { path: '../evil.xml', content: '<p>escaped</p>' },
    absolutePath: { path: '/etc/passwd.xml', content: '<p>absolute</p>' },
    nestedTraversal: { path: 'nl/../../nested-evil.xml', content: '<p>escaped</p>' },
    backslashTraversal: { path: '..\\windows-evil.xml', content: '<p>escaped</p>' },
    absoluteSymlink: { path: 'nl/nl-20990101-001.xml', type: 'symlink', linkname: '/etc/passwd' },
    escapingSymlink: { path: 'nl/nl-20990101-002.xml', type: 'symlink', linkname: '../../../etc/passwd' },
    escapingHardlink: { path: 'nl/nl-20990101-003.xml', type: 'link', linkname: '../outside.xml' },
    characterDevice: { path: 'nl/nl-20990101-004.xml', type: 'character-device' },
  } satisfies Record<string, ArchiveEntry>;
}

/** A document whose internal DTD expands to about 3 GB ("billion laughs"): parsers must refuse it. */
export function entityExpansionEntry(path = 'nl/nl-20990101-005.xml'): ArchiveEntry {
  const entities = ['<!ENTITY lol0 "lol">'];
  for (let i = 1; i <= 9; i++) entities.push(`<!ENTITY lol${i} "${`&lol${i - 1};`.repeat(10)}">`);
  return { path, content: `<!DOCTYPE html [${entities.join('')}]><html><body><p>&lol9;</p></body></html>` };
}

/** A document that is not well-formed XML (an unclosed element). */
export function malformedXmlEntry(path = 'nl/nl-20990101-006.xml'): ArchiveEntry {
  return { path, content: '<!DOCTYPE html><html lang="no"><body><main><article class="legalP">Uavsluttet' };
}

/** Cuts the file to its first `keepBytes` bytes, like an interrupted download. */
export async function truncateFile(file: string, keepBytes: number): Promise<void> {
  const { size } = await stat(file);
  if (keepBytes < 0 || keepBytes >= size)
    throw new Error(`keepBytes must be in 0..${size - 1}, got ${keepBytes}`);
  await truncate(file, keepBytes);
}

/** Inverts 16 bytes in the middle of the compressed data, so that `bzip2 -t` reports a CRC/data error. */
export async function corruptBzip2Block(file: string): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    const { size } = await handle.stat();
    const length = 16;
    if (size < 64) throw new Error(`${file} is too small (${size} bytes) to corrupt a block`);
    const position = Math.floor(size / 2) - length / 2;
    const bytes = Buffer.alloc(length);
    await handle.read(bytes, 0, length, position);
    for (let i = 0; i < length; i++) bytes[i] = bytes[i]! ^ 0xff;
    await handle.write(bytes, 0, length, position);
  } finally {
    await handle.close();
  }
}
