import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { request } from 'undici';
import { archiveFormatOf, sniffArchiveFormat } from './archive-entries.ts';
import { parseRetryAfter, TransientHttpError, UpstreamProtocolError } from './lovdata-client.ts';

export interface DownloadOptions {
  url: string;
  /** Final path; the body is streamed to `${dest}.part` and renamed once complete and checked. */
  dest: string;
  timeoutMs: number;
  /** Conditional request: a 304 means the archive did not change. */
  etag?: string | null;
  lastModified?: Date | null;
  /** sizeBytes from the list: the complete archive must have exactly this size. */
  expectedSize?: number | null;
  /**
   * The whole attempt (headers and body) must end within timeoutMs plus the expected size at this
   * rate: a server that drips bytes just fast enough for the per-chunk timeout cannot hold the one
   * sync slot without bound. 0 = no overall deadline.
   */
  minBytesPerSecond?: number;
  /**
   * The size to assume for the deadline before the response says it. When neither the list nor
   * the response gives a size, the rate is held per window instead: fewer than
   * minBytesPerSecond x timeoutMs bytes in any timeoutMs window ends the download.
   */
  maxBytes?: number;
  onProgress?: (bytes: number, total: number | null) => void;
}

export type DownloadResult =
  | { status: 'not-modified' }
  | {
      status: 'downloaded';
      path: string;
      bytes: number;
      received: number;
      resumedFrom: number;
      etag: string | null;
      lastModified: Date | null;
    };

/** The download did not finish within its overall deadline (derived from the archive's size). */
export class DownloadDeadlineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DownloadDeadlineError';
  }
}

/** `bytes START-END/TOTAL` -> START, or null when the header is absent or not of that form. */
export function contentRangeStart(header: string | string[] | undefined): number | null {
  const v = Array.isArray(header) ? header[0] : header;
  const m = v ? /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(v) : null;
  return m ? Number(m[1]) : null;
}

interface PartMeta {
  etag: string | null;
  url: string;
}

/**
 * One download attempt (callers wrap it in withRetries). Streams the body to disk, never to memory.
 * A partial file left by an interrupted attempt is resumed with Range + If-Range when the server's
 * ETag still matches; otherwise it starts over.
 */
export async function downloadArchive(opts: DownloadOptions): Promise<DownloadResult> {
  const part = `${opts.dest}.part`;
  const metaFile = `${opts.dest}.part.json`;
  await mkdir(dirname(opts.dest), { recursive: true });

  let offset = 0;
  let meta: PartMeta | null = null;
  try {
    meta = JSON.parse(await readFile(metaFile, 'utf8')) as PartMeta;
    offset = (await stat(part)).size;
  } catch {
    offset = 0;
    meta = null;
  }
  const resume = offset > 0 && meta?.etag && meta.url === opts.url;
  if (!resume) offset = 0;

  const headers: Record<string, string> = {
    accept: 'application/x-bzip2, application/zip, application/octet-stream',
  };
  if (resume) {
    headers.range = `bytes=${offset}-`;
    headers['if-range'] = meta!.etag!;
  } else {
    if (opts.etag) headers['if-none-match'] = opts.etag;
    if (opts.lastModified) headers['if-modified-since'] = opts.lastModified.toUTCString();
  }

  // The overall deadline: re-armed once the response says how big the body is.
  const abort = new AbortController();
  let deadlineTimer: NodeJS.Timeout | undefined;
  let deadlineMs = 0;
  // With no size known (no sizeBytes in the list, no Content-Length), the size-derived deadline
  // would be MAX_ARCHIVE_BYTES at the minimum rate (days): the rate floor is checked per window instead.
  let floorTimer: NodeJS.Timeout | undefined;
  let tooSlow: string | null = null;
  const armDeadline = (bytes: number | null) => {
    if (!opts.minBytesPerSecond) return;
    clearTimeout(deadlineTimer);
    const size = bytes ?? opts.expectedSize ?? opts.maxBytes ?? 0;
    deadlineMs = opts.timeoutMs + Math.ceil((size / opts.minBytesPerSecond) * 1000);
    deadlineTimer = setTimeout(() => abort.abort(), deadlineMs - (performance.now() - startedAt));
    deadlineTimer.unref();
  };
  const startedAt = performance.now();
  armDeadline(null);
  try {
    return await attempt();
  } catch (err) {
    if (abort.signal.aborted && tooSlow) throw new DownloadDeadlineError(tooSlow);
    if (abort.signal.aborted) {
      throw new DownloadDeadlineError(
        `GET ${opts.url}: not complete after ${Math.round(deadlineMs / 1000)} s, the overall deadline for its size ` +
          `(LOVDATA_API_TIMEOUT + size at LOVDATA_MIN_DOWNLOAD_BYTES_PER_SECOND ${opts.minBytesPerSecond}); ` +
          `the partial download is kept and resumed by the next sync`,
      );
    }
    throw err;
  } finally {
    clearTimeout(deadlineTimer);
    clearInterval(floorTimer);
  }

  async function attempt(): Promise<DownloadResult> {
    let res;
    try {
      res = await request(opts.url, {
        headers,
        headersTimeout: opts.timeoutMs,
        bodyTimeout: opts.timeoutMs,
        signal: abort.signal,
      });
    } catch (err) {
      throw new TransientHttpError(`GET ${opts.url} failed: ${(err as Error).message}`);
    }

    const status = res.statusCode;
    if (status === 304) {
      await res.body.dump();
      return { status: 'not-modified' };
    }
    if (status === 429 || status >= 500) {
      await res.body.dump();
      throw new TransientHttpError(
        `GET ${opts.url} answered ${status}`,
        parseRetryAfter(res.headers['retry-after'] as string),
      );
    }
    if (status === 416 && resume) {
      await res.body.dump();
      await rm(part, { force: true });
      await rm(metaFile, { force: true });
      throw new TransientHttpError(
        `GET ${opts.url}: stored partial download is not satisfiable, starting over`,
      );
    }
    if (status !== 200 && status !== 206) {
      await res.body.dump();
      throw new UpstreamProtocolError(`GET ${opts.url} answered ${status}`);
    }
    const type = String(res.headers['content-type'] ?? '');
    if (/^(text\/|application\/(json|xhtml))/i.test(type)) {
      await res.body.dump();
      throw new UpstreamProtocolError(`GET ${opts.url} returned ${type}, not an archive (an error page?)`);
    }

    if (status === 206) {
      // A 206 continues the stored part only when it starts exactly where that part ends; anything
      // else (no resume asked, a wrong or missing Content-Range) is never appended: start over.
      const start = contentRangeStart(res.headers['content-range']);
      if (!resume || start !== offset) {
        await res.body.dump();
        await rm(part, { force: true });
        await rm(metaFile, { force: true });
        throw new TransientHttpError(
          `GET ${opts.url}: 206 with Content-Range ${JSON.stringify(res.headers['content-range'] ?? null)} ` +
            `does not continue the partial download at byte ${resume ? offset : 0}; starting over from 0`,
        );
      }
    }
    const appending = status === 206 && resume;
    if (!appending) offset = 0;
    const etag = (res.headers.etag as string | undefined) ?? null;
    const lastModifiedHeader = res.headers['last-modified'] as string | undefined;
    const lengthHeader = res.headers['content-length'] as string | undefined;
    const bodyLength = lengthHeader !== undefined ? Number(lengthHeader) : null;
    const total = bodyLength !== null ? offset + bodyLength : (opts.expectedSize ?? null);
    if (bodyLength !== null) armDeadline(bodyLength);
    if (opts.expectedSize != null && bodyLength !== null && offset + bodyLength !== opts.expectedSize) {
      await res.body.dump();
      throw new UpstreamProtocolError(
        `GET ${opts.url}: the archive is ${offset + bodyLength} bytes (Content-Length${appending ? ' + resumed part' : ''}), ` +
          `the dataset list says ${opts.expectedSize} (sizeBytes); refused`,
      );
    }
    await writeFile(metaFile, JSON.stringify({ etag, url: opts.url } satisfies PartMeta));

    let received = 0;
    if (opts.minBytesPerSecond && bodyLength === null && opts.expectedSize == null) {
      clearTimeout(deadlineTimer);
      const windowMs = opts.timeoutMs;
      const floor = Math.ceil((opts.minBytesPerSecond * windowMs) / 1000);
      let windowStart = 0;
      floorTimer = setInterval(() => {
        const got = received - windowStart;
        windowStart = received;
        if (got >= floor) return;
        tooSlow =
          `GET ${opts.url}: ${got} bytes in the last ${Math.round(windowMs / 1000)} s (${offset + received} in all), ` +
          `below LOVDATA_MIN_DOWNLOAD_BYTES_PER_SECOND ${opts.minBytesPerSecond} with no size known ` +
          `(no sizeBytes in the list, no Content-Length); the partial download is kept and resumed by the next sync`;
        abort.abort();
      }, windowMs);
      floorTimer.unref();
    }
    // The magic number is checked on the first 4 bytes however the body is cut into chunks: chunks
    // are held back until 4 bytes arrived (or the body ended).
    let head: Buffer[] | null = [];
    let headBytes = 0;
    const checkHead = (chunks: Buffer[]): Error | null => {
      const bytes = Buffer.concat(chunks);
      const ok = archiveFormatOf(bytes) !== null;
      return ok
        ? null
        : new UpstreamProtocolError(
            `GET ${opts.url}: body is not a bzip2 or zip archive (starts ${JSON.stringify(bytes.subarray(0, 4).toString('latin1'))})`,
          );
    };
    const checkAndCount = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        received += chunk.length;
        opts.onProgress?.(offset + received, total);
        if (appending || head === null) return cb(null, chunk);
        head.push(chunk);
        headBytes += chunk.length;
        if (headBytes < 4) return cb();
        const bad = checkHead(head);
        if (bad) return cb(bad);
        const held = Buffer.concat(head);
        head = null;
        cb(null, held);
      },
      flush(cb) {
        if (appending || head === null) return cb();
        const bad = checkHead(head);
        if (bad) return cb(bad);
        cb(null, Buffer.concat(head));
      },
    });

    try {
      await pipeline(res.body, checkAndCount, createWriteStream(part, { flags: appending ? 'a' : 'w' }));
    } catch (err) {
      if (err instanceof UpstreamProtocolError) {
        await rm(part, { force: true });
        await rm(metaFile, { force: true });
        throw err;
      }
      if (abort.signal.aborted) throw err;
      throw new TransientHttpError(
        `GET ${opts.url}: body interrupted after ${offset + received} bytes: ${(err as Error).message}`,
      );
    }

    const size = offset + received;
    if (bodyLength !== null && received !== bodyLength) {
      throw new TransientHttpError(`GET ${opts.url}: received ${received} of ${bodyLength} bytes`);
    }
    if (opts.expectedSize != null && size !== opts.expectedSize) {
      await rm(part, { force: true });
      await rm(metaFile, { force: true });
      throw new UpstreamProtocolError(
        `GET ${opts.url}: received ${size} bytes, the dataset list says ${opts.expectedSize} (sizeBytes); refused`,
      );
    }
    if (appending) await assertArchiveMagic(part, opts.url);
    await rename(part, opts.dest);
    await rm(metaFile, { force: true });
    return {
      status: 'downloaded',
      path: opts.dest,
      bytes: size,
      received,
      resumedFrom: offset,
      etag,
      lastModified: lastModifiedHeader ? new Date(lastModifiedHeader) : null,
    };
  }
}

async function assertArchiveMagic(file: string, url: string): Promise<void> {
  if ((await sniffArchiveFormat(file)).format === null) {
    throw new UpstreamProtocolError(`GET ${url}: resumed file is not a bzip2 or zip archive`);
  }
}
