/**
 * The real Lovdata sample archives in /work/shared/corpus (see its README; NLOD 2.0), unpacked with
 * the system tar for tests: real bytes of every member file.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import type { ArchiveEntry } from '../archive/archive-entry.ts';

export const CORPUS_DIR = process.env.LOVSYNC_CORPUS_DIR ?? '/work/shared/corpus';
export const CORPUS_ARCHIVES = [
  'gjeldende-lover.tar.bz2',
  'gjeldende-sentrale-forskrifter.tar.bz2',
  'lovtidend-avd1-2001-2024.tar.bz2',
] as const;

export function corpusAvailable(): boolean {
  return CORPUS_ARCHIVES.every((a) => existsSync(join(CORPUS_DIR, a)));
}

/** The regular files of a corpus archive (optionally only `members`), sorted by path. */
export function corpusEntries(archive: string, into: string, members: string[] = []): ArchiveEntry[] {
  const dir = join(into, archive.replace(/\.tar\.bz2$/, ''));
  mkdirSync(dir, { recursive: true });
  execFileSync('tar', ['-xjf', join(CORPUS_DIR, archive), '-C', dir, ...members], { stdio: 'ignore' });
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => relative(dir, join(d.parentPath, d.name)).split(sep).join('/'))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map((path) => ({ path, content: readFileSync(join(dir, path)) }));
}
