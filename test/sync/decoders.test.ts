/**
 * Every bzip2 decoder (BZIP2_DECODER = lbzip2 | bzip2 | js) on every kind of damage: each must fail
 * fast with a clear ArchiveError, never hang. The pure-JS decoder always runs; a decoder that is not
 * installed on this machine is reported as skipped with the reason, on stderr and in the summary.
 */
import { appendFile, copyFile, mkdtemp, open, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ArchiveError,
  commandAvailable,
  readArchive,
  type Bzip2Decoder,
} from '../../services/sync/src/archive-entries.ts';
import {
  buildTarBz2,
  corruptBzip2Block,
  fixtureEntries,
  truncateFile,
} from '@lovsync/testkit/archive/archive-builder';

/** How long a decoder may take to give up on a damaged 300 KB archive (a good read takes < 1 s). */
const FAIL_WITHIN_MS = 10_000;
const DECODERS: Bzip2Decoder[] = ['lbzip2', 'bzip2', 'js'];
const LIMITS = { maxEntryBytes: 1 << 30, maxTotalBytes: 1 << 30, maxEntries: 1_000_000 };

let tmp: string;
let good: string;

async function overwrite(file: string, position: number, bytes: Buffer): Promise<void> {
  const h = await open(file, 'r+');
  try {
    await h.write(bytes, 0, bytes.length, position);
  } finally {
    await h.close();
  }
}

async function flip(file: string, position: number, length: number): Promise<void> {
  const h = await open(file, 'r+');
  try {
    const b = Buffer.alloc(length);
    await h.read(b, 0, length, position);
    for (let i = 0; i < length; i++) b[i] = b[i]! ^ 0xff;
    await h.write(b, 0, length, position);
  } finally {
    await h.close();
  }
}

/** Each kind of damage, applied to a copy of a good two-dataset archive (~300 KB, 3 bzip2 blocks). */
const DAMAGE: [string, (file: string, size: number) => Promise<void>][] = [
  ['16 bytes flipped mid-file (CRC error)', (f) => corruptBzip2Block(f)],
  ['bytes flipped in the first block header', (f) => flip(f, 4, 8)],
  ['bytes flipped near the end (stream CRC)', (f, size) => flip(f, size - 6, 4)],
  ['4 KiB of zeros mid-file', (f, size) => overwrite(f, Math.floor(size / 3), Buffer.alloc(4096))],
  ['truncated at half', (f, size) => truncateFile(f, Math.floor(size / 2))],
  ['truncated right after the stream header', (f) => truncateFile(f, 10)],
  ['the last byte cut off', (f, size) => truncateFile(f, size - 1)],
  [
    'random bytes after a valid magic',
    async (f, size) => {
      let x = 12345;
      const junk = Buffer.alloc(size - 4, 0);
      for (let i = 0; i < junk.length; i++) junk[i] = (x = (x * 1103515245 + 12345) & 0x7fffffff) >>> 16;
      await writeFile(f, Buffer.concat([Buffer.from('BZh9'), junk]));
    },
  ],
  ['a second, damaged stream appended', async (f) => appendFile(f, Buffer.from('BZh91AY&SYgarbage'))],
];

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'lovsync-decoders-'));
  good = join(tmp, 'good.tar.bz2');
  await buildTarBz2([...fixtureEntries('gjeldende-lover'), ...fixtureEntries('lovtidend-avd1-2025')], good, {
    compressor: 'bzip2',
  });
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe.each(DECODERS)('BZIP2_DECODER=%s', (decoder) => {
  const installed = decoder === 'js' || commandAvailable(decoder);
  if (!installed) {
    process.stderr.write(
      `\n*** SKIPPED: ${decoder} is not installed on this machine; its hostile-input tests did not run ***\n\n`,
    );
  }

  it('reads the good archive', async (ctx) => {
    if (!installed) ctx.skip(`${decoder} is not installed on this machine`);
    const r = await readArchive(good, { decoder, limits: LIMITS, onEntry: () => undefined });
    expect(r).toMatchObject({ decoder, entries: 21, refused: [] });
  });

  it.for(DAMAGE)('%s: fails fast with a clear error', async ([name, damage], ctx) => {
    if (!installed) ctx.skip(`${decoder} is not installed on this machine`);
    const file = join(tmp, `${decoder}-${name.replace(/\W+/g, '-')}.tar.bz2`);
    await copyFile(good, file);
    await damage(file, (await stat(file)).size);
    const t0 = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      readArchive(file, { decoder, limits: LIMITS, onEntry: () => undefined }).then(
        () => 'read without an error',
        (err: unknown) => err,
      ),
      new Promise((resolve) => {
        timer = setTimeout(() => resolve(`still reading after ${FAIL_WITHIN_MS} ms`), FAIL_WITHIN_MS);
      }),
    ]);
    clearTimeout(timer);
    expect(outcome).toBeInstanceOf(ArchiveError);
    expect((outcome as Error).message).toMatch(/corrupt or truncated/);
    expect(performance.now() - t0).toBeLessThan(FAIL_WITHIN_MS);
  });
});
