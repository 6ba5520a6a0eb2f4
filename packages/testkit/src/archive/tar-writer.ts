/**
 * A minimal streaming tar writer (POSIX ustar, with pax extended headers for long names).
 *
 * Written by hand instead of using tar-stream's `pack()` because test archives must hold names
 * exactly as given, hostile ones included (`../evil.xml`, `/etc/passwd.xml`), and because
 * tar-stream is not a dependency of the workspace root. Header layout: POSIX.1-1988 ustar,
 * https://www.gnu.org/software/tar/manual/html_node/Standard.html
 */
import { contentChunks, contentSize, defaultMode, DEFAULT_MTIME } from './archive-entry.ts';
import type { ArchiveEntry, ArchiveEntryType } from './archive-entry.ts';

const BLOCK_SIZE = 512;
/** GNU tar's default record size: the archive is padded to a multiple of it. */
const RECORD_SIZE = 20 * BLOCK_SIZE;

const TYPE_FLAGS: Record<ArchiveEntryType | 'pax', string> = {
  file: '0',
  link: '1',
  symlink: '2',
  'character-device': '3',
  directory: '5',
  pax: 'x',
};

type Header = {
  name: string;
  type: ArchiveEntryType | 'pax';
  size: number;
  mode: number;
  mtime: Date;
  linkname: string;
  devmajor: number;
  devminor: number;
};

/** Yields the tar archive block by block; file contents are streamed, never buffered whole. */
export async function* tarChunks(
  entries: Iterable<ArchiveEntry> | AsyncIterable<ArchiveEntry>,
): AsyncGenerator<Buffer> {
  let written = 0;
  for await (const entry of entries) {
    for (const block of entryHeaderBlocks(entry)) {
      written += block.length;
      yield block;
    }
    if ((entry.type ?? 'file') !== 'file') continue;
    let size = 0;
    for await (const chunk of contentChunks(entry)) {
      size += chunk.length;
      yield chunk;
    }
    const padding = paddingTo(size, BLOCK_SIZE);
    if (padding > 0) yield Buffer.alloc(padding);
    written += size + padding;
  }
  const end = 2 * BLOCK_SIZE;
  yield Buffer.alloc(end + paddingTo(written + end, RECORD_SIZE));
}

/** The header block of an entry, preceded by a pax header when the name or link target is too long. */
export function entryHeaderBlocks(entry: ArchiveEntry): Buffer[] {
  const type = entry.type ?? 'file';
  const name = type === 'directory' && !entry.path.endsWith('/') ? `${entry.path}/` : entry.path;
  const linkname = entry.linkname ?? '';
  if ((type === 'symlink' || type === 'link') && !linkname)
    throw new Error(`${name}: ${type} needs a linkname`);
  const header: Header = {
    name,
    type,
    size: type === 'file' ? contentSize(entry) : 0,
    mode: entry.mode ?? defaultMode(type),
    mtime: entry.mtime ?? DEFAULT_MTIME,
    linkname,
    devmajor: type === 'character-device' ? 1 : 0,
    devminor: type === 'character-device' ? 3 : 0,
  };

  const paxRecords: string[] = [];
  if (!splitUstarName(name)) paxRecords.push(paxRecord('path', name));
  if (Buffer.byteLength(linkname) > 100) paxRecords.push(paxRecord('linkpath', linkname));
  if (paxRecords.length === 0) return [encodeHeader(header)];

  const paxBody = Buffer.from(paxRecords.join(''), 'utf8');
  const paxHeader = encodeHeader({
    ...header,
    name: truncateUtf8(`PaxHeaders/${baseName(name)}`, 100),
    type: 'pax',
    size: paxBody.length,
    linkname: '',
  });
  const shortHeader = encodeHeader({
    ...header,
    name: truncateUtf8(baseName(name), 100),
    linkname: truncateUtf8(linkname, 100),
  });
  const padding = Buffer.alloc(paddingTo(paxBody.length, BLOCK_SIZE));
  return [paxHeader, paxBody, padding, shortHeader];
}

function encodeHeader(header: Header): Buffer {
  const split = splitUstarName(header.name) ?? { prefix: '', name: truncateUtf8(header.name, 100) };
  const block = Buffer.alloc(BLOCK_SIZE);
  writeString(block, 0, 100, split.name);
  writeOctal(block, 100, 8, header.mode & 0o7777);
  writeOctal(block, 108, 8, 0); // uid
  writeOctal(block, 116, 8, 0); // gid
  writeSize(block, 124, header.size);
  writeOctal(block, 136, 12, Math.floor(header.mtime.getTime() / 1000));
  block.fill(' ', 148, 156); // checksum placeholder, counted as spaces
  writeString(block, 156, 1, TYPE_FLAGS[header.type]);
  writeString(block, 157, 100, header.linkname);
  writeString(block, 257, 6, 'ustar\0');
  writeString(block, 263, 2, '00');
  writeString(block, 265, 32, 'root'); // uname
  writeString(block, 297, 32, 'root'); // gname
  writeOctal(block, 329, 8, header.devmajor);
  writeOctal(block, 337, 8, header.devminor);
  writeString(block, 345, 155, split.prefix);

  let checksum = 0;
  for (const byte of block) checksum += byte;
  writeString(block, 148, 8, `${checksum.toString(8).padStart(6, '0')}\0 `);
  return block;
}

/** ustar stores names up to 100 bytes, or up to 256 bytes split at a `/` into prefix and name. */
function splitUstarName(name: string): { prefix: string; name: string } | null {
  if (Buffer.byteLength(name) <= 100) return { prefix: '', name };
  for (let slash = name.indexOf('/'); slash > 0; slash = name.indexOf('/', slash + 1)) {
    const prefix = name.slice(0, slash);
    const rest = name.slice(slash + 1);
    if (Buffer.byteLength(prefix) <= 155 && rest.length > 0 && Buffer.byteLength(rest) <= 100) {
      return { prefix, name: rest };
    }
  }
  return null;
}

/** A pax record is `<length> <key>=<value>\n`, the length counting its own digits. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bodyBytes = Buffer.byteLength(body);
  let length = bodyBytes + String(bodyBytes).length;
  if (String(length).length !== String(bodyBytes).length) length = bodyBytes + String(length).length;
  return `${length}${body}`;
}

function writeString(block: Buffer, offset: number, width: number, value: string): void {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > width)
    throw new Error(`tar header field too long (${bytes.length} > ${width}): ${value}`);
  bytes.copy(block, offset);
}

function writeOctal(block: Buffer, offset: number, width: number, value: number): void {
  writeString(block, offset, width, `${value.toString(8).padStart(width - 1, '0')}\0`);
}

/** Sizes of 8 GiB and more do not fit 11 octal digits: GNU base-256 encoding then. */
function writeSize(block: Buffer, offset: number, size: number): void {
  if (size < 8 ** 11) return writeOctal(block, offset, 12, size);
  block[offset] = 0x80;
  let rest = size;
  for (let i = offset + 11; i > offset; i--) {
    block[i] = rest % 256;
    rest = Math.floor(rest / 256);
  }
}

function paddingTo(size: number, multiple: number): number {
  return (multiple - (size % multiple)) % multiple;
}

function baseName(name: string): string {
  return name.replace(/\/+$/, '').split('/').pop() || 'entry';
}

function truncateUtf8(value: string, maxBytes: number): string {
  let result = value;
  while (Buffer.byteLength(result) > maxBytes) result = result.slice(0, -1);
  return result;
}
