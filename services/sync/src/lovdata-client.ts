import { request } from 'undici';
import { z } from 'zod';

/** An error worth retrying (network, timeout, 5xx, 429). `retryAfterMs` honours Retry-After. */
export class TransientHttpError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'TransientHttpError';
  }
}

/** The upstream answered something that is not what the API promises (HTML page, bad JSON, ...). */
export class UpstreamProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UpstreamProtocolError';
  }
}

/** Archive file names we accept: a plain file name, never a path. */
export const DATASET_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.(tar\.bz2|zip)$/;

const listEntrySchema = z.looseObject({
  filename: z.string(),
  lastModified: z.string().optional().nullable(),
  sizeBytes: z.union([z.string(), z.number()]).optional().nullable(),
});

export interface DatasetListing {
  filename: string;
  lastModified: Date | null;
  sizeBytes: number | null;
  /** Every field the API sent, unknown ones included. */
  raw: Record<string, unknown>;
}

export interface ListResult {
  datasets: DatasetListing[];
  /** Entries refused with the reason (absurd file name, unparseable date, ...). */
  refused: { entry: unknown; reason: string }[];
}

export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Parses lastModified whatever its precision; `null` when absent or unparseable. */
export function parseLastModified(v: string | null | undefined): Date | null {
  if (!v) return null;
  const t = Date.parse(v);
  return Number.isNaN(t) ? null : new Date(t);
}

export function parseListBody(body: string): ListResult {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (err) {
    throw new UpstreamProtocolError(
      `dataset list is not valid JSON (${(err as Error).message}); body starts ${JSON.stringify(body.slice(0, 80))}`,
    );
  }
  if (!Array.isArray(json)) throw new UpstreamProtocolError('dataset list is not a JSON array');
  const result: ListResult = { datasets: [], refused: [] };
  const seen = new Set<string>();
  for (const entry of json) {
    const parsed = listEntrySchema.safeParse(entry);
    if (!parsed.success) {
      result.refused.push({ entry, reason: 'entry has no string filename' });
      continue;
    }
    const { filename } = parsed.data;
    if (!DATASET_NAME_RE.test(filename) || filename.includes('..')) {
      result.refused.push({ entry, reason: `refused dataset file name ${JSON.stringify(filename)}` });
      continue;
    }
    if (seen.has(filename)) {
      result.refused.push({ entry, reason: `duplicate dataset ${filename}` });
      continue;
    }
    seen.add(filename);
    const size = parsed.data.sizeBytes;
    const sizeBytes =
      size === undefined || size === null || !/^\d+$/.test(String(size).trim()) ? null : Number(size);
    result.datasets.push({
      filename,
      lastModified: parseLastModified(parsed.data.lastModified),
      sizeBytes,
      raw: parsed.data,
    });
  }
  return result;
}

export async function fetchDatasetList(apiUrl: string, timeoutMs: number): Promise<ListResult> {
  const url = `${apiUrl}/v1/publicData/list`;
  let res;
  try {
    res = await request(url, {
      headers: { accept: 'application/json' },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    throw new TransientHttpError(`GET ${url} failed: ${(err as Error).message}`);
  }
  const body = await res.body.text().catch((err: Error) => {
    throw new TransientHttpError(`GET ${url}: body failed: ${err.message}`);
  });
  if (res.statusCode === 429 || res.statusCode >= 500) {
    throw new TransientHttpError(
      `GET ${url} answered ${res.statusCode}`,
      parseRetryAfter(res.headers['retry-after'] as string | undefined),
    );
  }
  if (res.statusCode !== 200) throw new UpstreamProtocolError(`GET ${url} answered ${res.statusCode}`);
  const type = String(res.headers['content-type'] ?? '');
  if (/html/i.test(type) || /^\s*</.test(body)) {
    throw new UpstreamProtocolError(
      `GET ${url} returned an HTML page (content-type ${type || 'none'}), not the dataset list`,
    );
  }
  return parseListBody(body);
}

/**
 * Retries `fn` on TransientHttpError with exponential backoff (honouring Retry-After), up to `attempts`.
 * Anything else fails at once.
 */
export async function withRetries<T>(
  fn: (attempt: number) => Promise<T>,
  opts: {
    attempts: number;
    baseDelayMs: number;
    maxDelayMs?: number;
    onRetry?: (err: Error, delayMs: number) => void;
  },
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (!(err instanceof TransientHttpError) || attempt >= opts.attempts) throw err;
      const backoff = Math.min(opts.baseDelayMs * 2 ** (attempt - 1), opts.maxDelayMs ?? 60_000);
      const delay = Math.min(Math.max(backoff, err.retryAfterMs ?? 0), opts.maxDelayMs ?? 60_000);
      opts.onRetry?.(err, delay);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
