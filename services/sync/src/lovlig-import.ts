import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { withTransaction } from '@lovsync/shared/db';
import { HASH_HEX_RE } from '@lovsync/shared/hash';
import type { ServiceContext } from '@lovsync/shared/context';
import { normaliseEntryPath, unsafePathReason } from './archive-entries.ts';
import { DATASET_NAME_RE } from './lovdata-client.ts';

/**
 * lovlig's state.json: { "raw_datasets": { "<archive>": { "filename", "last_modified", "files": {
 * "<dataset-dir>/<path>": { "path", "size", "sha256"|"xxhash"|"hash", "last_changed", "status" } } } } }.
 * Field names vary a little between lovlig versions, so both the dataset and the file records are
 * read leniently; what is required is a path and an XXH3-128 hex digest per file.
 */
const fileSchema = z.looseObject({
  path: z.string().optional(),
  size: z.number().int().nonnegative().optional(),
  /** lovlig's FileMetadata names its XXH3-128 hex digest `sha256` (martgra/lovlig). */
  sha256: z.string().optional(),
  xxhash: z.string().optional(),
  hash: z.string().optional(),
  status: z.string().optional(),
  last_changed: z.string().optional().nullable(),
});
const datasetSchema = z.looseObject({
  filename: z.string().optional(),
  last_modified: z.string().optional().nullable(),
  files: z.record(z.string(), fileSchema).default({}),
});
const stateSchema = z.looseObject({ raw_datasets: z.record(z.string(), datasetSchema) });

export interface LovligImportResult {
  datasets: number;
  files: number;
}

/**
 * Adopts a lovlig state file so the first sync after switching reports only real changes. Dataset
 * names and file paths are validated exactly like the sync validates list entries and archive
 * entries: a crafted state file cannot point `files prune` or EXTRACT_DIR outside their roots.
 */
export async function importLovligState(
  ctx: Pick<ServiceContext, 'database'>,
  file: string,
): Promise<LovligImportResult> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read lovlig state ${file}: ${(err as Error).message}`);
  }
  const parsed = stateSchema.safeParse(raw);
  if (!parsed.success)
    throw new Error(`not a lovlig state file (${file}): ${parsed.error.issues[0]?.message}`);
  let files = 0;
  await withTransaction(ctx.database.pool, async (c) => {
    for (const [key, ds] of Object.entries(parsed.data.raw_datasets)) {
      const name = ds.filename ?? key;
      if (!DATASET_NAME_RE.test(name) || name.includes('..'))
        throw new Error(
          `${file}: dataset ${JSON.stringify(name)} is not an archive file name such as gjeldende-lover.tar.bz2`,
        );
      const dirName = name.replace(/\.(tar\.bz2|zip)$/, '');
      const rows: { path: string; hash: string; size: number; status: string }[] = [];
      for (const [fkey, f] of Object.entries(ds.files)) {
        const hash = (f.xxhash ?? f.hash ?? f.sha256 ?? '').toLowerCase();
        if (!HASH_HEX_RE.test(hash)) throw new Error(`${name}/${fkey}: no XXH3-128 hash in the state file`);
        // lovlig keys files by "<dataset-dir>/<path inside archive>".
        let path = f.path ?? fkey;
        if (path.startsWith(`${dirName}/`)) path = path.slice(dirName.length + 1);
        const unsafe = unsafePathReason(path);
        if (unsafe) throw new Error(`${name}: file ${JSON.stringify(path)} refused: ${unsafe}`);
        path = normaliseEntryPath(path);
        if (path === '') throw new Error(`${name}: file ${JSON.stringify(fkey)} refused: empty path`);
        const status = f.status === 'removed' ? 'removed' : 'unchanged';
        rows.push({ path, hash, size: f.size ?? 0, status });
      }
      await c.query(
        `INSERT INTO datasets (name, last_modified, file_count) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET last_modified = EXCLUDED.last_modified, file_count = EXCLUDED.file_count`,
        [name, ds.last_modified ?? null, rows.length],
      );
      await c.query(
        `INSERT INTO files (dataset, path, hash, size, status, last_changed)
         SELECT $1, p, h, s, st, $6 FROM unnest($2::text[], $3::text[], $4::bigint[], $5::text[]) AS t(p, h, s, st)
         ON CONFLICT (dataset, path) DO UPDATE SET hash = EXCLUDED.hash, size = EXCLUDED.size, status = EXCLUDED.status`,
        [
          name,
          rows.map((r) => r.path),
          rows.map((r) => r.hash),
          rows.map((r) => r.size),
          rows.map((r) => r.status),
          ds.last_modified ?? null,
        ],
      );
      files += rows.length;
    }
  });
  return { datasets: Object.keys(parsed.data.raw_datasets).length, files };
}
