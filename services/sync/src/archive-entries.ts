import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, createReadStream, openSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { TarEndMarkerWatch } from './tar-end-marker.ts';
import unbzip2 from 'unbzip2-stream';
import yauzl from 'yauzl';

/** The archive cannot be read as a whole (corrupt, truncated, over a limit): the dataset fails. */
export class ArchiveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArchiveError';
  }
}

export interface ArchiveLimits {
  maxEntryBytes: number;
  maxTotalBytes: number;
  maxEntries: number;
}

export interface RefusedEntry {
  path: string;
  reason: string;
}

export type Bzip2Decoder = 'lbzip2' | 'bzip2' | 'js';

/**
 * The content of one archive entry, as the decoder delivered it: `parts` in order (hash them one by
 * one), `bytes()` joins them only when the whole content is needed (most files of an incremental
 * sync are only hashed: their content is never copied).
 */
export class EntryBody {
  private joined: Buffer | undefined;
  constructor(
    readonly parts: readonly Buffer[],
    readonly size: number,
  ) {}
  bytes(): Buffer {
    this.joined ??= this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.size);
    return this.joined;
  }
}

export interface ReadArchiveOptions {
  limits: ArchiveLimits;
  decoder?: 'auto' | Bzip2Decoder;
  /** Called for every accepted regular file, in archive order; awaited (backpressure). */
  onEntry: (path: string, body: EntryBody) => Promise<void> | void;
}

export interface ReadArchiveResult {
  format: 'tar.bz2' | 'zip';
  decoder: Bzip2Decoder | 'yauzl';
  entries: number;
  bytes: number;
  refused: RefusedEntry[];
}

/**
 * Why an entry name is refused, or null when it is a safe relative path. Entries must stay inside
 * the dataset: no absolute paths, no `..`, no backslashes or drive letters, no NUL or control chars.
 */
export function unsafePathReason(name: string): string | null {
  if (name.length === 0) return 'empty name';
  if (name.length > 1024) return 'name longer than 1024 characters';
  // eslint-disable-next-line no-control-regex -- refusing control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'control character in name';
  if (name.startsWith('/')) return 'absolute path';
  if (/^[A-Za-z]:/.test(name) || name.includes('\\')) return 'Windows-style path';
  const parts = name.split('/');
  if (parts.includes('..')) return 'path escapes its directory (..)';
  return null;
}

/** Canonical path of a safe entry: `./a//b` -> `a/b`. */
export function normaliseEntryPath(name: string): string {
  return name
    .split('/')
    .filter((p) => p !== '' && p !== '.')
    .join('/');
}

const availability = new Map<string, boolean>();
export function commandAvailable(cmd: string): boolean {
  let ok = availability.get(cmd);
  if (ok === undefined) {
    const r = spawnSync(cmd, ['--help'], { stdio: 'ignore' });
    ok = !(r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT');
    availability.set(cmd, ok);
  }
  return ok;
}

/** lbzip2 (parallel, ~60 MB/s here) > bzip2 (~25 MB/s) > pure JS unbzip2-stream (~8 MB/s, no binaries needed). */
export function chooseBzip2Decoder(pref: 'auto' | Bzip2Decoder = 'auto'): Bzip2Decoder {
  if (pref !== 'auto') return pref;
  if (commandAvailable('lbzip2')) return 'lbzip2';
  if (commandAvailable('bzip2')) return 'bzip2';
  return 'js';
}

/**
 * The archive format by its first bytes (bzip2 `BZh`, zip local file header `PK\x03\x04`), or null
 * when they are neither: the one magic-bytes check, for a downloaded body and for a file.
 */
export function archiveFormatOf(head: Buffer): 'tar.bz2' | 'zip' | null {
  if (head.length >= 3 && head.subarray(0, 3).toString('latin1') === 'BZh') return 'tar.bz2';
  if (head.length >= 4 && head.readUInt32LE(0) === 0x04034b50) return 'zip';
  return null;
}

/** The format of an archive file by its magic bytes, and the (up to 4) bytes it starts with. */
export async function sniffArchiveFormat(
  file: string,
): Promise<{ format: 'tar.bz2' | 'zip' | null; magic: Buffer }> {
  const fh = await open(file, 'r');
  try {
    const { buffer, bytesRead } = await fh.read(Buffer.alloc(4), 0, 4, 0);
    const magic = buffer.subarray(0, bytesRead);
    return { format: archiveFormatOf(magic), magic };
  } finally {
    await fh.close();
  }
}

/** Streams the entries of a tar.bz2 or zip archive (format detected by magic bytes). */
export async function readArchive(file: string, opts: ReadArchiveOptions): Promise<ReadArchiveResult> {
  const { format, magic } = await sniffArchiveFormat(file);
  if (!format) throw new ArchiveError(`not a bzip2 or zip archive (magic bytes ${magic.toString('hex')})`);
  return format === 'zip' ? readZip(file, opts) : readTarBz2(file, opts);
}

/**
 * The entry policy of both formats: directories are skipped; anything but a regular file, and any
 * unsafe name, is refused (recorded; the archive goes on); a regular file counts against the limits
 * (over one, the archive fails: Budget throws ArchiveError). Returns the canonical path of an entry
 * to read, or null for one that is not read.
 */
function admitEntry(
  entry: { name: string; directory: boolean; notRegular: string | null; declaredSize: number },
  budget: Budget,
  refused: RefusedEntry[],
): string | null {
  if (entry.directory) return null;
  const reason = entry.notRegular ?? unsafePathReason(entry.name);
  if (reason) {
    refused.push({ path: entry.name, reason });
    return null;
  }
  const path = normaliseEntryPath(entry.name);
  budget.entry(path, entry.declaredSize);
  return path;
}

class Budget {
  entries = 0;
  bytes = 0;
  constructor(private readonly limits: ArchiveLimits) {}
  entry(path: string, declaredSize: number): void {
    this.entries++;
    if (this.entries > this.limits.maxEntries) {
      throw new ArchiveError(
        `archive has more than ${this.limits.maxEntries} entries (limit MAX_ARCHIVE_ENTRIES)`,
      );
    }
    this.size(path, declaredSize, 0);
  }
  size(path: string, entryBytes: number, added: number): void {
    if (entryBytes > this.limits.maxEntryBytes) {
      throw new ArchiveError(
        `entry ${path} is larger than ${this.limits.maxEntryBytes} bytes (limit MAX_ENTRY_BYTES)`,
      );
    }
    this.bytes += added;
    if (this.bytes > this.limits.maxTotalBytes) {
      throw new ArchiveError(
        `archive expands to more than ${this.limits.maxTotalBytes} bytes (limit MAX_ARCHIVE_BYTES)`,
      );
    }
  }
}

/**
 * How many archives one process decodes at a time: lbzip2 already uses every core, so two at once
 * only make 2n threads fight over n cores (measured on the 500 MB bench corpus: three lbzip2 -n2 at
 * once took 12-17 s where one after the other took 5.5 s); bzip2 and the JS decoder use one core
 * each.
 */
export function decodeSlotsFor(decoder: Bzip2Decoder): number {
  return decoder === 'lbzip2' ? 1 : Math.max(1, availableParallelism());
}

/** A counting semaphore: a freed slot goes to the waiter with the highest priority (FIFO among equals). */
class Gate {
  private free: number;
  private readonly waiting: { priority: number; wake: () => void }[] = [];
  constructor(slots: number) {
    this.free = slots;
  }
  async acquire(priority: number): Promise<() => void> {
    if (this.free > 0) this.free--;
    else
      await new Promise<void>((wake) => {
        const at = this.waiting.findIndex((w) => w.priority < priority);
        this.waiting.splice(at === -1 ? this.waiting.length : at, 0, { priority, wake });
      });
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next.wake();
      else this.free++;
    };
  }
}

const decodeGates = new Map<Bzip2Decoder, Gate>();

/**
 * Waits for this process's turn to decode an archive with `decoder` (see decodeSlotsFor); returns
 * the release function. The sync takes it before opening a dataset's transaction, so no transaction
 * sits idle while it waits. Among waiting archives the largest (`archiveBytes`) goes first: it
 * usually holds the most changed files, whose parse jobs then run beside the remaining decodes
 * instead of after the last one.
 */
export function acquireDecodeSlot(decoder: Bzip2Decoder, archiveBytes = 0): Promise<() => void> {
  let gate = decodeGates.get(decoder);
  if (!gate) decodeGates.set(decoder, (gate = new Gate(decodeSlotsFor(decoder))));
  return gate.acquire(archiveBytes);
}

/**
 * Starts a decoder on `file`. A child decoder reads the file itself (its stdin is the file's
 * descriptor), so no byte of the archive passes through this process; the JS decoder is fed here.
 */
function spawnDecoder(
  decoder: Bzip2Decoder,
  file: string,
): {
  stream: Readable;
  done: Promise<void>;
  child?: ChildProcess;
  /** Stops feeding the JS decoder (a child decoder is stopped by killing it). */
  source?: ReturnType<typeof createReadStream>;
} {
  if (decoder === 'js') {
    const s = unbzip2();
    const done = new Promise<void>((resolve, reject) => {
      s.on('end', resolve);
      s.on('error', (err: Error) =>
        reject(
          err instanceof ArchiveError
            ? err
            : new ArchiveError(
                // The JS decoder reports a stream cut near its end as a raw TypeError from its internals.
                `bzip2 data is corrupt or truncated: ${err instanceof TypeError ? 'the stream is damaged or ends early' : err.message} (js decoder)`,
              ),
        ),
      );
    });
    const source = createReadStream(file, { highWaterMark: 256 * 1024 });
    source.on('error', (err) => s.destroy(new ArchiveError(`cannot read ${file}: ${err.message}`)));
    source.pipe(s);
    return { stream: s, done, source };
  }
  const args = decoder === 'lbzip2' ? ['-dc', '-n', String(Math.max(1, availableParallelism()))] : ['-dc'];
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    const e = new ArchiveError(`cannot read ${file}: ${(err as Error).message}`);
    return { stream: Readable.from([]), done: Promise.reject(e) };
  }
  let child: ChildProcess;
  try {
    child = spawn(decoder, args, { stdio: [fd, 'pipe', 'pipe'] });
  } finally {
    // The child holds its own copy of the descriptor.
    closeSync(fd);
  }
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    if (stderr.length < 2000) stderr += d;
  });
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', (err) => reject(new ArchiveError(`cannot run ${decoder}: ${err.message}`)));
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else if (signal) reject(new ArchiveError(`${decoder} was stopped (${signal})`));
      else
        reject(
          new ArchiveError(
            `bzip2 data is corrupt or truncated (${decoder} exited ${code}: ${decoderComplaint(stderr)})`,
          ),
        );
    });
  });
  return { stream: child.stdout!, done, child };
}

/** The line of a decoder's stderr that says what is wrong (bzip2's first line; its last is advice). */
function decoderComplaint(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return lines[0] ?? 'no message';
}

/** tar-stream's "Unexpected end of data" in words: the archive stops inside an entry. */
function tarComplaint(err: Error): string {
  return /unexpected end of data/i.test(err.message)
    ? 'the archive ends in the middle of an entry (a truncated download or a damaged archive)'
    : err.message;
}

async function readTarBz2(file: string, opts: ReadArchiveOptions): Promise<ReadArchiveResult> {
  const decoder = chooseBzip2Decoder(opts.decoder);
  const budget = new Budget(opts.limits);
  const refused: RefusedEntry[] = [];
  const dec = spawnDecoder(decoder, file);
  const extract = tar.extract();
  const endMarker = new TarEndMarkerWatch();
  let failure: Error | null = null;
  const fail = (err: Error) => {
    // tar-stream's own errors ("Unexpected end of data") reach here through the entry stream.
    if (!failure)
      failure =
        err instanceof ArchiveError || !(err instanceof Error) || err.name !== 'Error'
          ? err
          : new ArchiveError(`tar data is corrupt or truncated: ${tarComplaint(err)}`);
    dec.source?.destroy();
    dec.child?.kill('SIGKILL');
    // The end-marker watch sits between decoder and tar parser: it must go too, or the decoder's
    // output stays buffered in it and the decoder never closes.
    endMarker.destroy();
    extract.destroy(err);
  };

  const extracted = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      // A failure destroys the current entry stream with the error; it is reported through `extracted`.
      stream.on('error', () => undefined);
      const name = header.name;
      const type = header.type ?? 'file';
      const skip = () => {
        stream.on('end', () => next());
        stream.resume();
      };
      // After the end-of-archive marker nothing is part of the archive (as with `tar x`).
      if (endMarker.isEndBefore(header)) return skip();
      let path: string | null;
      try {
        path = admitEntry(
          {
            name,
            directory: type === 'directory',
            notRegular:
              type === 'file' || type === 'contiguous-file'
                ? null
                : `${type} entries are not allowed (only regular files)${header.linkname ? ` -> ${header.linkname}` : ''}`,
            declaredSize: header.size ?? 0,
          },
          budget,
          refused,
        );
      } catch (err) {
        return fail(err as Error);
      }
      if (path === null) return skip();
      const parts: Buffer[] = [];
      let size = 0;
      stream.on('data', (data: unknown) => {
        const chunk = data as Buffer;
        size += chunk.length;
        try {
          budget.size(path, size, chunk.length);
        } catch (err) {
          fail(err as Error);
          return;
        }
        parts.push(chunk);
      });
      stream.on('end', () => {
        if (failure) return;
        Promise.resolve(opts.onEntry(path, new EntryBody(parts, size))).then(
          () => next(),
          (err: Error) => fail(err),
        );
      });
      stream.on('error', (err) => fail(err));
    });
    extract.on('finish', resolve);
    extract.on('error', (err) =>
      reject(
        err instanceof ArchiveError
          ? err
          : new ArchiveError(`tar data is corrupt or truncated: ${tarComplaint(err)}`),
      ),
    );
  });

  // Whichever side fails first stops the other at once: a decoder that fails (CRC error, truncated
  // stream) ends its output mid-entry and tar-stream would wait for the rest forever; a tar parser
  // that fails on garbage stops reading, and the decoder would block on its full stdout forever.
  dec.done.catch((err: Error) => fail(err));
  extracted.catch((err: Error) => fail(err));
  dec.stream.pipe(endMarker).pipe(extract as unknown as NodeJS.WritableStream);

  const results = await Promise.allSettled([extracted, dec.done]);
  if (failure) throw failure;
  for (const r of results) if (r.status === 'rejected') throw r.reason;
  return { format: 'tar.bz2', decoder, entries: budget.entries, bytes: budget.bytes, refused };
}

async function readZip(file: string, opts: ReadArchiveOptions): Promise<ReadArchiveResult> {
  const budget = new Budget(opts.limits);
  const refused: RefusedEntry[] = [];
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.open(
      file,
      {
        lazyEntries: true,
        decodeStrings: false,
        validateEntrySizes: true,
        strictFileNames: false,
        autoClose: true,
      },
      (err, z) => (err ? reject(new ArchiveError(`zip archive is corrupt: ${err.message}`)) : resolve(z!)),
    ),
  );
  await new Promise<void>((resolve, reject) => {
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      zip.close();
      reject(
        err instanceof ArchiveError
          ? err
          : new ArchiveError(`zip archive is corrupt or truncated: ${err.message}`),
      );
    };
    zip.on('error', fail);
    zip.on('end', () => {
      if (!settled) {
        settled = true;
        resolve();
      }
    });
    zip.on('entry', (entry: yauzl.Entry) => {
      const raw = entry.fileName as unknown as Buffer;
      const name =
        (entry.generalPurposeBitFlag & 0x800) !== 0 ? raw.toString('utf8') : raw.toString('latin1');
      const mode = (entry.externalFileAttributes >>> 16) & 0o170000;
      let admitted: string | null;
      try {
        admitted = admitEntry(
          {
            name,
            directory: name.endsWith('/'),
            notRegular:
              mode === 0 || mode === 0o100000
                ? null
                : mode === 0o120000
                  ? 'symlink entries are not allowed'
                  : 'special file entries are not allowed',
            declaredSize: entry.uncompressedSize,
          },
          budget,
          refused,
        );
        if (admitted !== null) budget.size(admitted, entry.uncompressedSize, entry.uncompressedSize);
      } catch (err) {
        return fail(err as Error);
      }
      if (admitted === null) return zip.readEntry();
      const path = admitted;
      zip.openReadStream(entry, (err, stream) => {
        if (err || !stream) return fail(err ?? new Error('no stream'));
        const parts: Buffer[] = [];
        let size = 0;
        stream.on('data', (c: Buffer) => {
          size += c.length;
          if (size > entry.uncompressedSize) {
            stream.destroy();
            fail(new ArchiveError(`entry ${path} inflates beyond its declared size`));
            return;
          }
          parts.push(c);
        });
        stream.on('error', fail);
        stream.on('end', () => {
          Promise.resolve(opts.onEntry(path, new EntryBody(parts, size))).then(
            () => zip.readEntry(),
            (e: Error) => fail(e),
          );
        });
      });
    });
    zip.readEntry();
  });
  return { format: 'zip', decoder: 'yauzl', entries: budget.entries, bytes: budget.bytes, refused };
}
