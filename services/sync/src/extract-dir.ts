import { randomBytes } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';

/** lovlig's layout: `<EXTRACT_DIR>/<dataset name without .tar.bz2/.zip>/<path>`. */
export function datasetDirName(dataset: string): string {
  return dataset.replace(/\.(tar\.bz2|zip)$/, '');
}

export function extractPath(extractDir: string, dataset: string, path: string): string {
  const root = resolve(extractDir, datasetDirName(dataset));
  const target = resolve(root, path);
  // Entry paths are validated before they get here; this is the last line of defence.
  if (!target.startsWith(root + sep)) throw new Error(`refusing to write outside ${root}: ${path}`);
  return target;
}

/** Writes a file atomically: a reader sees the old or the new content, never a torn one. */
export async function writeMirroredFile(
  extractDir: string,
  dataset: string,
  path: string,
  content: Buffer,
): Promise<void> {
  const target = extractPath(extractDir, dataset, path);
  await mkdir(dirname(target), { recursive: true });
  const tmp = join(dirname(target), `.${randomBytes(6).toString('hex')}.tmp`);
  await writeFile(tmp, content);
  await rename(tmp, target);
}
