/**
 * Tar's end-of-archive marker (issue 17 point 11): a second tar appended after the two zero blocks
 * is not part of the archive (`tar x` stops there), so its "hidden" file must never become an
 * added file. Also tried: files whose content is full of zero blocks (at the start, in the middle,
 * a whole file of zeros), which must not be mistaken for the marker, on every decoder available.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readArchive } from '../../services/sync/src/archive-entries.ts';
import { tarChunks } from '@lovsync/testkit/archive/tar-writer';
import type { ArchiveEntry } from '@lovsync/testkit/archive/archive-builder';

const LIMITS = { maxEntryBytes: 1 << 30, maxTotalBytes: 1 << 30, maxEntries: 1_000_000 };
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'lovsync-tar-end-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function tarBytes(entries: ArchiveEntry[]): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of tarChunks(entries)) parts.push(chunk);
  return Buffer.concat(parts);
}

async function bz2File(name: string, tar: Buffer): Promise<string> {
  const out = spawnSync('bzip2', ['-c'], { input: tar, maxBuffer: 1 << 30 });
  if (out.status !== 0) throw new Error(`bzip2 failed: ${out.stderr.toString()}`);
  const file = join(tmp, name);
  await writeFile(file, out.stdout);
  return file;
}

async function paths(file: string): Promise<string[]> {
  const seen: string[] = [];
  await readArchive(file, { decoder: 'js', limits: LIMITS, onEntry: (p) => void seen.push(p) });
  const viaChild: string[] = [];
  await readArchive(file, { decoder: 'bzip2', limits: LIMITS, onEntry: (p) => void viaChild.push(p) });
  expect(viaChild).toEqual(seen);
  return seen;
}

const xml = (n: number) => `<html><body><p>document ${n}</p></body></html>`;

describe('tar end-of-archive marker', () => {
  it('ignores a second tar appended after the marker, as tar x does', async () => {
    const first = await tarBytes([
      { path: 'nl', type: 'directory' },
      { path: 'nl/nl-1.xml', content: xml(1) },
      { path: 'nl/nl-2.xml', content: xml(2) },
    ]);
    const hidden = await tarBytes([{ path: 'nl/hidden.xml', content: xml(666) }]);
    const file = await bz2File('appended.tar.bz2', Buffer.concat([first, hidden]));
    expect(await paths(file)).toEqual(['nl/nl-1.xml', 'nl/nl-2.xml']);
  });

  it('reads every file whose content is full of zero blocks', async () => {
    const zeros = (n: number) => Buffer.alloc(n);
    const entries: ArchiveEntry[] = [
      { path: 'a/leading-zeros.bin', content: Buffer.concat([zeros(4096), Buffer.from('tail')]) },
      { path: 'a/all-zeros.bin', content: zeros(8192) },
      { path: 'a/middle.bin', content: Buffer.concat([Buffer.from('head'), zeros(3000), Buffer.from('x')]) },
      { path: 'a/exact-block.bin', content: Buffer.concat([Buffer.alloc(511, 1), zeros(1)]) },
      { path: 'a/empty.bin', content: '' },
      { path: 'a/last.xml', content: xml(3) },
    ];
    const file = await bz2File('zeros.tar.bz2', await tarBytes(entries));
    expect(await paths(file)).toEqual(entries.map((e) => e.path));
  });

  it('a single zero block before the next header is not the marker', async () => {
    const a = await tarBytes([{ path: 'x/one.xml', content: xml(1) }]);
    const b = await tarBytes([{ path: 'x/two.xml', content: xml(2) }]);
    // Strip a's end marker and padding, leave ONE zero block, then b.
    const aBody = a.subarray(0, 512 + 512);
    const file = await bz2File('lone-zero.tar.bz2', Buffer.concat([aBody, Buffer.alloc(512), b]));
    expect(await paths(file)).toEqual(['x/one.xml', 'x/two.xml']);
  });
});

describe('TarEndMarkerWatch on chunks that split blocks', () => {
  it('finds the marker whatever the chunk boundaries', async () => {
    const { TarEndMarkerWatch } = await import('../../services/sync/src/tar-end-marker.ts');
    const first = await tarBytes([
      { path: 'nl/a.xml', content: Buffer.concat([Buffer.alloc(700), Buffer.from('z')]) },
    ]);
    for (const size of [1, 7, 511, 513, 1000, 4096]) {
      const watch = new TarEndMarkerWatch();
      watch.resume();
      for (let o = 0; o < first.length; o += size) watch.write(first.subarray(o, o + size));
      await new Promise<void>((r) => watch.end(r));
      // The entry a.xml: header at 0, data from 512, 701 bytes -> next header due at 512 + 1024.
      expect(watch.isEndBefore({ byteOffset: 512, size: 701 })).toBe(false);
      expect(watch.isEndBefore({ byteOffset: 512 + 1024 + 512, size: 10 })).toBe(true);
    }
  });
});
