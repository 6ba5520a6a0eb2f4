import { z } from 'zod';

const PG_INT_MAX = 2_147_483_647;

/** A sync_runs id in a path or query: a positive integer within Postgres' int range. */
export const runIdSchema = z
  .string()
  .regex(/^[1-9]\d{0,9}$/, 'must be a positive whole number')
  .transform(Number)
  .pipe(z.number().max(PG_INT_MAX, 'is out of range'));

const intParam = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,10}$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

/**
 * A Lovdata dokid such as `NL/lov/1999-03-26-17` or `LTI/forskrift/2025-01-07-8`: slash-separated
 * segments of letters, digits and a few punctuation marks; no empty, `.` or `..` segments, no
 * whitespace or control characters. Lenient enough for every id the parser stores, strict enough
 * that nothing odd reaches SQL logs or HTML.
 */
export const documentIdSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(300, 'is too long')
  .regex(
    /^[\p{L}\p{N}._§+()-]+(\/[\p{L}\p{N}._§+()-]+)*$/u,
    'is not a document id such as NL/lov/1999-03-26-17',
  )
  .refine((v) => !v.split('/').some((s) => s === '.' || s === '..'), 'must not contain . or .. segments');

export const listRunsQuery = z
  .object({
    limit: intParam(1, 200).default(20),
    before: runIdSchema.optional(),
  })
  .strict();

export const changesQuery = z
  .object({
    kind: z.enum(['files', 'sections', 'documents']).default('files'),
    limit: intParam(1, 1000).default(100),
    offset: intParam(0, 100_000_000).default(0),
  })
  .strict();

export const sectionsQuery = z
  .object({
    limit: intParam(1, 5000).default(1000),
    offset: intParam(0, 100_000_000).default(0),
  })
  .strict();

export const triggerSyncBody = z.object({ force: z.boolean().default(false) }).strict();
