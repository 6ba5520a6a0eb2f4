/** bench/.work (gitignored): built inputs cached between runs, keyed by a spec string. */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT } from './proc.ts';

export const WORK_DIR = join(ROOT, 'bench', '.work');

/**
 * Returns the metadata of `<WORK_DIR>/<name>` when it was built from the same `spec`; otherwise
 * wipes the directory, runs `build` into it and records the metadata. An interrupted build leaves
 * no meta.json, so it is redone.
 */
export async function cachedDir<T>(
  name: string,
  spec: string,
  build: (dir: string) => Promise<T>,
): Promise<{ dir: string; meta: T; built: boolean }> {
  const dir = join(WORK_DIR, name);
  const metaFile = join(dir, 'meta.json');
  try {
    const stored = JSON.parse(await readFile(metaFile, 'utf8')) as { spec: string; meta: T };
    if (stored.spec === spec) return { dir, meta: stored.meta, built: false };
  } catch {
    // not built yet (or interrupted): build below
  }
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const meta = await build(dir);
  await writeFile(metaFile, JSON.stringify({ spec, meta }, null, 2));
  return { dir, meta, built: true };
}
