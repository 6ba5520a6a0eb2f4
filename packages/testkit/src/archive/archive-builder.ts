/**
 * Builds Lovdata-like archives (`.tar.bz2`, `.zip`) for tests, benches and the API emulator.
 * Everything streams: a 300 MB archive never sits in memory.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { lstat, open, readdir, readFile, readlink, stat } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ArchiveEntry } from './archive-entry.ts';
import { comparePaths, FIXTURE_DATASETS, fixtureEntries } from './fixture-corpus.ts';
import { tarChunks } from './tar-writer.ts';

export type { ArchiveEntry, ArchiveEntryType, StreamedContent } from './archive-entry.ts';
export { DEFAULT_MTIME } from './archive-entry.ts';
export { buildZip } from './zip-writer.ts';
export {
  EDIT_MARKER,
  editEntries,
  FIXTURE_DATASETS,
  fixtureEntries,
  MAX_SYNTHETIC_COPIES,
  syntheticCorpus,
  syntheticCorpusEditedPaths,
} from './fixture-corpus.ts';
export type { FixtureDataset, SyntheticCorpusOptions } from './fixture-corpus.ts';
export {
  bombEntry,
  corruptBzip2Block,
  entityExpansionEntry,
  hostileEntries,
  malformedXmlEntry,
  truncateFile,
} from './hostile-archives.ts';

export type Bzip2Compressor = 'bzip2' | 'lbzip2';

/**
 * Writes the entries as a tar archive compressed by a `bzip2` child process (or `lbzip2 -n2`,
 * faster, when it is on PATH). Both produce standard single-stream bzip2 files.
 */
export async function buildTarBz2(
  entries: Iterable<ArchiveEntry> | AsyncIterable<ArchiveEntry>,
  outFile: string,
  options: { compressor?: Bzip2Compressor } = {},
): Promise<{ bytes: number }> {
  const compressor = options.compressor ?? (isOnPath('lbzip2') ? 'lbzip2' : 'bzip2');
  const args = compressor === 'lbzip2' ? ['-c', '-n2'] : ['-c'];
  const output = await open(outFile, 'w');
  try {
    const child = spawn(compressor, args, { stdio: ['pipe', output.fd, 'pipe'] });
    const { stdin, stderr: errors } = child;
    if (!stdin || !errors) throw new Error(`${compressor}: no stdio pipes`);
    let stderr = '';
    errors.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    const exited = new Promise<void>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) =>
        code === 0
          ? resolve()
          : reject(new Error(`${compressor} failed (${code ?? signal}): ${stderr.trim()}`)),
      );
    });
    const [written, compressed] = await Promise.allSettled([
      pipeline(Readable.from(tarChunks(entries)), stdin),
      exited,
    ]);
    // A failing compressor also breaks the pipe: its own error says more.
    if (compressed.status === 'rejected') throw compressed.reason;
    if (written.status === 'rejected') throw written.reason;
  } finally {
    await output.close();
  }
  return { bytes: (await stat(outFile)).size };
}

/** Files larger than this are streamed from disk instead of read into the entry. */
const IN_MEMORY_LIMIT = 16 << 20;

/**
 * The files and symlinks under `dir` as archive entries, with relative posix paths in sorted
 * order and their modes and mtimes. Contents are read one file at a time.
 */
export async function* entriesFromDir(dir: string): AsyncGenerator<ArchiveEntry> {
  for (const path of await listTree(dir)) {
    const full = join(dir, path);
    const info = await lstat(full);
    const common = { path, mode: info.mode & 0o7777, mtime: info.mtime };
    if (info.isSymbolicLink()) {
      yield { ...common, type: 'symlink', linkname: await readlink(full) };
    } else if (info.size > IN_MEMORY_LIMIT) {
      const content = { size: info.size, open: () => createFileChunks(full) };
      yield { ...common, content };
    } else {
      yield { ...common, content: await readFile(full) };
    }
  }
}

async function* createFileChunks(file: string): AsyncGenerator<Buffer> {
  const handle = await open(file);
  try {
    yield* handle.createReadStream({ autoClose: false });
  } finally {
    await handle.close();
  }
}

/** Relative posix paths of the files and symlinks under `dir`, sorted. */
async function listTree(dir: string, prefix = ''): Promise<string[]> {
  const paths: string[] = [];
  for (const dirent of await readdir(join(dir, prefix), { withFileTypes: true })) {
    const path = prefix ? `${prefix}/${dirent.name}` : dirent.name;
    if (dirent.isDirectory()) paths.push(...(await listTree(dir, path)));
    else if (dirent.isFile() || dirent.isSymbolicLink()) paths.push(path);
  }
  return paths.sort(comparePaths);
}

/** Builds `gjeldende-lover.tar.bz2` and `lovtidend-avd1-2025.tar.bz2` from the real fixtures. */
export async function buildFixtureArchives(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const dataset of FIXTURE_DATASETS) {
    const file = join(dir, `${dataset}.tar.bz2`);
    await buildTarBz2(fixtureEntries(dataset), file);
    files.push(file);
  }
  return files;
}

function isOnPath(command: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}
