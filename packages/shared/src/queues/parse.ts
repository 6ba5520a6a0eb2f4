import { createHash } from 'node:crypto';
import { z } from 'zod';
import { HASH_HEX_RE } from '../hash.ts';

export const PARSE_QUEUE = 'parse';

const hash = z.string().regex(HASH_HEX_RE, 'must be an XXH3-128 hex digest');

export const parseJobSchema = z
  .object({
    runId: z.number().int().positive(),
    fileChangeId: z.number().int().positive(),
    dataset: z.string().min(1),
    path: z.string().min(1),
    change: z.enum(['added', 'modified', 'removed']),
    newHash: hash.nullable(),
    oldHash: hash.nullable(),
  })
  .refine((j) => (j.change === 'removed' ? j.oldHash !== null : j.newHash !== null), {
    message: 'added/modified jobs need newHash, removed jobs need oldHash',
  });
export type ParseJobData = z.infer<typeof parseJobSchema>;

/** `parse-<runId>-<hash of dataset+path>`: one job per file per run, never a `:` in it. */
export function parseJobId(runId: number, dataset: string, path: string): string {
  const h = createHash('sha1').update(dataset).update('\0').update(path).digest('hex').slice(0, 24);
  return `parse-${runId}-${h}`;
}
