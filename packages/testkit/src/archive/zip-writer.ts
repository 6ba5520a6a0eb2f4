/**
 * Streams ArchiveEntries into a zip file with yazl.
 *
 * yazl refuses absolute and `..` names and rewrites `\` to `/`. Tests need such hostile names
 * verbatim, so those entries are added under a placeholder name of the same byte length, and the
 * real name is written over the placeholder in the local header and the central directory
 * afterwards (names are not covered by any checksum).
 */
import { createWriteStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { ZipFile } from 'yazl';
import { contentChunks, contentSize, defaultMode, DEFAULT_MTIME } from './archive-entry.ts';
import type { ArchiveEntry } from './archive-entry.ts';

const FILE_TYPE_BITS = { file: 0o100000, symlink: 0o120000, 'character-device': 0o020000 } as const;

type Rename = { index: number; name: Buffer };

export async function buildZip(
  entries: Iterable<ArchiveEntry> | AsyncIterable<ArchiveEntry>,
  outFile: string,
): Promise<{ bytes: number }> {
  const zip = new ZipFile();
  const output = createWriteStream(outFile);
  const written = finished(zip.outputStream.pipe(output));
  const failed = new Promise<never>((_, reject) => {
    zip.once('error', reject);
    output.once('error', reject);
  });
  failed.catch(() => {}); // observed through Promise.race below
  const renames: Rename[] = [];

  let index = 0;
  for await (const entry of entries) {
    const type = entry.type ?? 'file';
    if (type === 'link') throw new Error(`${entry.path}: zip archives cannot hold hard links`);
    const options = { mtime: entry.mtime ?? DEFAULT_MTIME, mode: (entry.mode ?? defaultMode(type)) & 0o7777 };
    if (type === 'directory') {
      zip.addEmptyDirectory(entry.path, { ...options, mode: 0o040000 | options.mode });
    } else {
      const name = yazlAcceptsName(entry.path) ? entry.path : placeholderFor(entry.path, index, renames);
      const mode = FILE_TYPE_BITS[type] | options.mode;
      const data: ArchiveEntry =
        type === 'symlink'
          ? { path: entry.path, content: entry.linkname ?? '' }
          : type === 'file'
            ? entry
            : { path: entry.path };
      // Wait until yazl has consumed this entry before pulling the next: memory stays bounded by one entry.
      const consumed = new Promise<void>((resolve, reject) => {
        zip.addReadStreamLazy(name, { ...options, mode, size: contentSize(data) }, (callback) => {
          const stream = Readable.from(contentChunks(data));
          stream.once('end', resolve).once('error', reject);
          callback(null, stream);
        });
      });
      await Promise.race([consumed, failed]);
    }
    index++;
  }
  zip.end();
  await Promise.race([written, failed]);

  if (renames.length > 0) await writeRealNames(outFile, renames);
  return { bytes: (await stat(outFile)).size };
}

/** Mirrors yazl's validateMetadataPath, plus backslashes (which yazl would rewrite). */
function yazlAcceptsName(name: string): boolean {
  return !(
    name === '' ||
    name.endsWith('/') ||
    name.includes('\\') ||
    /^[a-zA-Z]:/.test(name) ||
    name.startsWith('/') ||
    name.split('/').includes('..')
  );
}

function placeholderFor(name: string, index: number, renames: Rename[]): string {
  const bytes = Buffer.from(name, 'utf8');
  renames.push({ index, name: bytes });
  return 'x'.repeat(bytes.length);
}

/** Overwrites placeholder names, found by entry index in the central directory, with the real ones. */
async function writeRealNames(file: string, renames: Rename[]): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    const { size } = await handle.stat();
    const tail = Buffer.alloc(Math.min(size, 22 + 0xffff));
    await handle.read(tail, 0, tail.length, size - tail.length);
    const eocd = tail.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
    if (eocd < 0) throw new Error(`${file}: no end of central directory record`);
    const directorySize = tail.readUInt32LE(eocd + 12);
    const directoryOffset = tail.readUInt32LE(eocd + 16);
    if (directoryOffset === 0xffffffff)
      throw new Error(`${file}: hostile names in zip64 archives are not supported`);
    const directory = Buffer.alloc(directorySize);
    await handle.read(directory, 0, directorySize, directoryOffset);

    const byIndex = new Map(renames.map((rename) => [rename.index, rename.name]));
    let position = 0;
    for (let index = 0; position < directory.length; index++) {
      if (directory.readUInt32LE(position) !== 0x02014b50) throw new Error(`${file}: bad central directory`);
      const nameLength = directory.readUInt16LE(position + 28);
      const next =
        position +
        46 +
        nameLength +
        directory.readUInt16LE(position + 30) +
        directory.readUInt16LE(position + 32);
      const realName = byIndex.get(index);
      if (realName) {
        if (realName.length !== nameLength) throw new Error(`${file}: placeholder length mismatch`);
        const localHeader = directory.readUInt32LE(position + 42);
        await handle.write(realName, 0, realName.length, directoryOffset + position + 46);
        await handle.write(realName, 0, realName.length, localHeader + 30);
      }
      position = next;
    }
  } finally {
    await handle.close();
  }
}
