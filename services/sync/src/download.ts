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
  /** sizeBytes from the list, checked when the response has no Content-Length. */
  expectedSize?: number | null;
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

  let res;
  try {
    res = await request(opts.url, {
      headers,
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
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

  const appending = status === 206 && resume;
  if (!appending) offset = 0;
  const etag = (res.headers.etag as string | undefined) ?? null;
  const lastModifiedHeader = res.headers['last-modified'] as string | undefined;
  const lengthHeader = res.headers['content-length'] as string | undefined;
  const bodyLength = lengthHeader !== undefined ? Number(lengthHeader) : null;
  const total = bodyLength !== null ? offset + bodyLength : (opts.expectedSize ?? null);
  await writeFile(metaFile, JSON.stringify({ etag, url: opts.url } satisfies PartMeta));

  let received = 0;
  let head = Buffer.alloc(0);
  const checkAndCount = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (!appending && head.length < 4) {
        head = Buffer.concat([head, chunk.subarray(0, 4 - head.length)]);
        if (head.length >= 4 || head.length === chunk.length) {
          const ok = archiveFormatOf(head) !== null;
          if (!ok) {
            cb(
              new UpstreamProtocolError(
                `GET ${opts.url}: body is not a bzip2 or zip archive (starts ${JSON.stringify(head.toString('latin1'))})`,
              ),
            );
            return;
          }
        }
      }
      received += chunk.length;
      opts.onProgress?.(offset + received, total);
      cb(null, chunk);
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
    throw new TransientHttpError(
      `GET ${opts.url}: body interrupted after ${offset + received} bytes: ${(err as Error).message}`,
    );
  }

  const size = offset + received;
  if (bodyLength !== null && received !== bodyLength) {
    throw new TransientHttpError(`GET ${opts.url}: received ${received} of ${bodyLength} bytes`);
  }
  if (bodyLength === null && opts.expectedSize != null && size !== opts.expectedSize) {
    throw new TransientHttpError(
      `GET ${opts.url}: received ${size} bytes, the list says ${opts.expectedSize}`,
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

async function assertArchiveMagic(file: string, url: string): Promise<void> {
  if ((await sniffArchiveFormat(file)).format === null) {
    throw new UpstreamProtocolError(`GET ${url}: resumed file is not a bzip2 or zip archive`);
  }
}
