// Test helper: members of the real Lovdata sample archives in /work/shared/corpus (November 2025
// publication, NLOD 2.0: "Contains data under the Norwegian licence for Open Government data
// (NLOD 2.0) distributed by Lovdata"). Read through the production archive reader.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readArchive } from '@lovsync/sync';

/** Where the sample archives are (LOVSYNC_CORPUS_DIR overrides). */
export const CORPUS_DIR = process.env['LOVSYNC_CORPUS_DIR'] ?? '/work/shared/corpus';

export type CorpusArchive = 'gjeldende-lover' | 'gjeldende-sentrale-forskrifter' | 'lovtidend-avd1-2001-2024';

const cache = new Map<string, Map<string, string>>();

/** The XML members of one sample archive (path -> UTF-8 text), in archive order; `only` limits
 * which paths are kept. Throws when the archive is missing: these tests never pass vacuously. */
export async function corpusMembers(
  archive: CorpusArchive,
  only?: (path: string) => boolean,
): Promise<Map<string, string>> {
  const cacheKey = only === undefined ? archive : '';
  const cached = cache.get(cacheKey);
  if (cached !== undefined) return cached;
  const file = join(CORPUS_DIR, `${archive}.tar.bz2`);
  if (!existsSync(file)) throw new Error(`real corpus archive missing: ${file} (set LOVSYNC_CORPUS_DIR)`);
  const members = new Map<string, string>();
  await readArchive(file, {
    limits: { maxEntryBytes: 64 * 1024 * 1024, maxTotalBytes: 1024 * 1024 * 1024, maxEntries: 100_000 },
    onEntry: (path, content) => {
      if (path.endsWith('.xml') && (only === undefined || only(path)))
        members.set(path, content.bytes().toString('utf8'));
    },
  });
  if (only === undefined) cache.set(archive, members);
  return members;
}
