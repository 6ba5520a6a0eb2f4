import { z } from 'zod';

export const DIFF_QUEUE = 'diff';

export const diffJobSchema = z.object({
  runId: z.number().int().positive(),
  dataset: z.string().min(1),
  /** True when the dataset vanished from the list: an empty manifest, every file becomes removed. */
  vanished: z.boolean().default(false),
});
export type DiffJobData = z.infer<typeof diffJobSchema>;

export function diffJobId(runId: number, dataset: string): string {
  return `diff-${runId}-${dataset.replace(/[^A-Za-z0-9._-]/g, '_')}`;
}
