import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';

/** lovlig's layout: `<EXTRACT_DIR>/<dataset name without .tar.bz2/.zip>/<path>`. */
export function datasetDirName(dataset: string): string {
  return dataset.replace(/\.(tar\.bz2|zip)$/, '');
}

/**
 * `root/part/...` resolved, or an error when the result is not strictly inside `root`. Every path
 * lovsync writes or removes under EXTRACT_DIR or RAW_DATA_DIR goes through this: names are
 * validated before they get here, this is the last line of defence.
 */
export function pathInside(root: string, ...parts: string[]): string {
  const base = resolve(root);
  const target = resolve(base, ...parts);
  if (!target.startsWith(base + sep))
    throw new Error(`refusing a path outside ${base}: ${JSON.stringify(parts.join('/'))}`);
  return target;
}

export function extractPath(extractDir: string, dataset: string, path: string): string {
  const root = pathInside(extractDir, datasetDirName(dataset));
  return pathInside(root, path);
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

/**
 * EXTRACT_DIR mirrors committed versions only: while an archive is read its files are written to a
 * staging directory under EXTRACT_DIR, and moved into place only after the dataset's manifest has
 * committed. A dataset refused half-way (a hostile entry late in the archive, a corrupt block)
 * discards the staging directory and leaves the mirror exactly as the last committed sync left it.
 */
export class MirrorStage {
  private readonly root: string;
  private readonly paths: string[] = [];

  constructor(
    private readonly extractDir: string,
    private readonly dataset: string,
    runId: number,
  ) {
    this.root = pathInside(
      extractDir,
      '.lovsync-staging',
      `${runId}-${datasetDirName(dataset)}-${randomBytes(4).toString('hex')}`,
    );
  }

  async add(path: string, content: Buffer): Promise<void> {
    extractPath(this.extractDir, this.dataset, path); // refuse before anything is written
    const staged = pathInside(this.root, path);
    await mkdir(dirname(staged), { recursive: true });
    await writeFile(staged, content);
    this.paths.push(path);
  }

  /** Moves every staged file into the mirror (each rename is atomic), then drops the staging dir. */
  async commit(): Promise<number> {
    for (const path of this.paths) {
      const target = extractPath(this.extractDir, this.dataset, path);
      await mkdir(dirname(target), { recursive: true });
      await rename(pathInside(this.root, path), target);
    }
    await this.discard();
    return this.paths.length;
  }

  async discard(): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
  }
}
