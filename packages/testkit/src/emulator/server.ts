/**
 * An emulator of Lovdata's public data API (`/v1/publicData/list` and `/v1/publicData/get/{file}`)
 * serving the `*.tar.bz2` / `*.zip` archives of a directory, with HTTP caching headers, Range
 * requests and switchable faults. Used by tests and demos: there is no internet in development.
 */
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { createServer, STATUS_CODES } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FaultSwitch } from './faults.ts';
import type { Endpoint, Fault, FaultKind } from './faults.ts';

export type { Endpoint, Fault, FaultKind } from './faults.ts';

export type EmulatorOptions = { dir: string; port?: number; host?: string };

export type Emulator = {
  /** e.g. `http://127.0.0.1:40123`, no trailing slash: use it as LOVDATA_API_URL. */
  url: string;
  port: number;
  close(): Promise<void>;
  /**
   * Applies to the next `fault.count` matching requests (default: all of them); a list applies its
   * faults one after the other; null clears it.
   */
  setFault(fault: Fault | Fault[] | null): void;
  /** Overrides an archive's lastModified (list and Last-Modified header); null restores the file mtime. */
  setLastModified(filename: string, date: Date | null): void;
  /** Every request received, in order (a live array). */
  requests: RequestLog[];
  resetRequests(): void;
};

export type RequestLog = {
  method: string;
  url: string;
  /** All request headers, e.g. `headers.range`, `headers['if-none-match']`. */
  headers: IncomingHttpHeaders;
  /** The response status, null while (or if never) answered. */
  status: number | null;
  /** The fault applied to this request, if any. */
  fault: FaultKind | null;
};

/** One element of the list endpoint's answer, in the shape the real API has. */
export type ListEntry = { filename: string; description: string; sizeBytes: string; lastModified: string };

const LIST_PATH = '/v1/publicData/list';
const GET_PREFIX = '/v1/publicData/get/';

const DESCRIPTIONS: Record<string, string> = {
  'gjeldende-lover.tar.bz2': 'Gjeldende lover, ajourført med endringer',
  'gjeldende-sentrale-forskrifter.tar.bz2': 'Gjeldende sentrale forskrifter, ajourført med endringer',
  'lovtidend-avd1-2025.tar.bz2': 'Norsk Lovtidend avdeling I 2025',
};

const HTML_ERROR_PAGE =
  '<!DOCTYPE html><html lang="no"><head><title>Lovdata - midlertidig utilgjengelig</title></head>' +
  '<body><h1>Tjenesten er midlertidig utilgjengelig</h1><p>Vennligst prøv igjen senere.</p></body></html>';

const MALFORMED_JSON = '[{"filename": "gjeldende-lover.tar.bz2", "sizeBytes": "5769192", "lastModified": ';

export async function startEmulator(options: EmulatorOptions): Promise<Emulator> {
  const host = options.host ?? '127.0.0.1';
  const archives = new ArchiveDirectory(options.dir);
  const faults = new FaultSwitch();
  const requests: RequestLog[] = [];

  const server = createServer((req, res) => {
    const log: RequestLog = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      status: null,
      fault: null,
    };
    requests.push(log);
    handleRequest(req, new Reply(res, log), archives, faults).catch((error: unknown) => {
      if (res.headersSent) res.destroy(error as Error);
      else {
        const reply = new Reply(res, log);
        reply
          .json(500, { error: 'Internal Server Error', message: String(error) })
          .catch(() => res.destroy());
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    requests,
    setFault: (fault) => faults.set(fault),
    setLastModified: (filename, date) => archives.setLastModified(filename, date),
    resetRequests: () => {
      requests.length = 0;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections(); // includes requests held by a 'hang' fault
      }),
  };
}

async function handleRequest(
  req: IncomingMessage,
  reply: Reply,
  archives: ArchiveDirectory,
  faults: FaultSwitch,
) {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return reply.json(405, { error: 'Method Not Allowed' }, { Allow: 'GET, HEAD' });
  }
  const pathname = (req.url ?? '').split('?')[0]!;
  const endpoint: Endpoint | null =
    pathname === LIST_PATH ? 'list' : pathname.startsWith(GET_PREFIX) ? 'get' : null;
  if (!endpoint) return reply.json(404, { error: 'Not Found', message: `no route for ${pathname}` });

  const requested = endpoint === 'get' ? archiveNameFromPath(pathname.slice(GET_PREFIX.length)) : null;
  const fault = faults.take(endpoint, requested ?? undefined);
  reply.fault = fault;
  switch (fault?.kind) {
    case 'hang':
      return; // never answered; Emulator.close() drops the connection
    case 'status':
      return reply.json(fault.status, { error: STATUS_CODES[fault.status] ?? 'Error' });
    case 'rate-limit':
      return reply.json(
        429,
        { error: 'Too Many Requests' },
        { 'Retry-After': String(fault.retryAfterSeconds) },
      );
    case 'html':
      return reply.send(200, { 'Content-Type': 'text/html; charset=utf-8' }, HTML_ERROR_PAGE);
  }

  if (endpoint === 'list') {
    let body: string;
    if (fault?.kind === 'malformed-json') body = MALFORMED_JSON;
    else if (fault?.kind === 'list-override') body = JSON.stringify(fault.body);
    else body = JSON.stringify(await archives.list());
    return reply.send(200, { 'Content-Type': 'application/json; charset=utf-8' }, body);
  }

  const filename = archiveNameFromPath(pathname.slice(GET_PREFIX.length));
  const archive = filename ? await archives.find(filename) : null;
  if (!archive) return reply.json(404, { error: 'Not Found', message: 'no such dataset file' });
  return serveArchive(req, reply, archive);
}

function serveArchive(req: IncomingMessage, reply: Reply, archive: Archive) {
  const lastModifiedSeconds = Math.floor(archive.lastModified.getTime() / 1000) * 1000;
  const validators = { ETag: archive.etag, 'Last-Modified': archive.lastModified.toUTCString() };

  const ifNoneMatch = req.headers['if-none-match'];
  const ifModifiedSince = Date.parse(req.headers['if-modified-since'] ?? '');
  if (
    ifNoneMatch !== undefined
      ? etagListMatches(ifNoneMatch, archive.etag)
      : lastModifiedSeconds <= ifModifiedSince
  ) {
    return reply.send(304, validators);
  }

  const headers = {
    ...validators,
    'Content-Type':
      reply.fault?.kind === 'wrong-type' ? 'text/plain; charset=utf-8' : archiveType(archive.filename),
    'Accept-Ranges': 'bytes',
    'Content-Disposition': `attachment; filename="${archive.filename}"`,
  };
  const ifRange = [req.headers['if-range'] ?? []].flat()[0];
  const rangeApplies =
    ifRange === undefined ||
    (ifRange.startsWith('"') ? ifRange === archive.etag : Date.parse(ifRange) === lastModifiedSeconds);
  let range = rangeApplies ? parseRange(req.headers.range, archive.size) : null;
  if (range && range !== 'unsatisfiable' && reply.fault?.kind === 'wrong-range-start')
    range = { start: Math.max(0, range.start - reply.fault.shift), end: range.end };
  if (range === 'unsatisfiable') {
    return reply.json(
      416,
      { error: 'Range Not Satisfiable' },
      { 'Content-Range': `bytes */${archive.size}` },
    );
  }
  if (range) {
    const { start, end } = range;
    return reply.send(
      206,
      { ...headers, 'Content-Range': `bytes ${start}-${end}/${archive.size}` },
      {
        length: end - start + 1,
        open: () => createReadStream(archive.path, { start, end }),
      },
    );
  }
  if (reply.fault?.kind === 'short-body') {
    const length = Math.min(reply.fault.bytes, archive.size);
    return reply.send(200, headers, {
      length,
      open: () => createReadStream(archive.path, { start: 0, end: length - 1 }),
    });
  }
  return reply.send(200, headers, { length: archive.size, open: () => createReadStream(archive.path) });
}

// --- responses ---------------------------------------------------------------------------------

type StreamedBody = { length: number; open: () => AsyncIterable<Buffer> };

/** Writes a response, logging its status and applying the body faults (slow, truncate). */
class Reply {
  private currentFault: Fault | null = null;

  constructor(
    private readonly res: ServerResponse,
    private readonly log: RequestLog,
  ) {}

  get fault(): Fault | null {
    return this.currentFault;
  }

  set fault(fault: Fault | null) {
    this.currentFault = fault;
    this.log.fault = fault?.kind ?? null;
  }

  json(status: number, value: unknown, headers: Record<string, string> = {}): Promise<void> {
    return this.send(
      status,
      { ...headers, 'Content-Type': 'application/json; charset=utf-8' },
      JSON.stringify(value),
    );
  }

  async send(
    status: number,
    headers: Record<string, string>,
    body: string | StreamedBody = '',
  ): Promise<void> {
    const { res } = this;
    const streamed =
      typeof body === 'string' ? { length: Buffer.byteLength(body), open: () => [Buffer.from(body)] } : body;
    this.log.status = status;
    const bodyless = status === 304 || res.req.method === 'HEAD';
    const sizeUnsaid = (bodyless && status === 304) || (this.fault?.kind === 'slow' && this.fault.chunked);
    res.writeHead(status, sizeUnsaid ? headers : { ...headers, 'Content-Length': streamed.length });
    if (bodyless) return void res.end();
    await this.writeBody(streamed.open());
  }

  /** The truncate fault's cut: after its hold, the socket is destroyed mid-body. */
  private async cut(res: ServerResponse): Promise<void> {
    const hold = this.fault?.kind === 'truncate' ? (this.fault.holdMs ?? 0) : 0;
    if (hold > 0) await sleep(hold);
    dropConnection(res);
  }

  private async writeBody(chunks: AsyncIterable<Buffer> | Iterable<Buffer>): Promise<void> {
    const { res, fault } = this;
    const limit = fault?.kind === 'truncate' ? fault.afterBytes : Infinity;
    const bytesPerSecond = fault?.kind === 'slow' ? fault.bytesPerSecond : null;
    const sliceSize = bytesPerSecond ? Math.max(1, Math.floor(bytesPerSecond / 10)) : Infinity;
    res.flushHeaders();
    let sent = 0;
    let firstChunk = fault?.kind === 'first-chunk' ? fault.bytes : 0;
    for await (let chunk of chunks) {
      if (firstChunk > 0 && chunk.length > firstChunk) {
        // The first bytes alone in one TCP segment, then a pause, so the client reads them alone.
        await write(res, chunk.subarray(0, firstChunk));
        sent += firstChunk;
        chunk = chunk.subarray(firstChunk);
        firstChunk = 0;
        await sleep(300);
      }
      for (let offset = 0; offset < chunk.length; offset += sliceSize) {
        if (res.destroyed) return;
        const piece = chunk.subarray(
          offset,
          Math.min(offset + sliceSize, chunk.length, offset + limit - sent),
        );
        if (bytesPerSecond) await sleep((piece.length / bytesPerSecond) * 1000);
        if (piece.length > 0) await write(res, piece);
        sent += piece.length;
        if (sent >= limit) return this.cut(res);
      }
    }
    if (sent >= limit) return this.cut(res);
    res.end();
  }
}

/** Writes and waits until the chunk is handed to the socket (or the client is gone). */
function write(res: ServerResponse, chunk: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('close', done);
      resolve();
    };
    res.once('close', done);
    res.write(chunk, done);
  });
}

function dropConnection(res: ServerResponse): void {
  res.socket?.destroy();
}

// --- archives ----------------------------------------------------------------------------------

type Archive = { filename: string; path: string; size: number; lastModified: Date; etag: string };

class ArchiveDirectory {
  private readonly lastModifiedOverrides = new Map<string, Date>();

  constructor(private readonly dir: string) {}

  setLastModified(filename: string, date: Date | null): void {
    if (date) this.lastModifiedOverrides.set(filename, date);
    else this.lastModifiedOverrides.delete(filename);
  }

  /** Re-read on every call, so tests can drop new archives into the directory. */
  async list(): Promise<ListEntry[]> {
    const dirents = await readdir(this.dir, { withFileTypes: true });
    const names = dirents.filter((d) => d.isFile() && isArchiveName(d.name)).map((d) => d.name);
    const archives = await Promise.all(names.sort().map((name) => this.find(name)));
    return archives
      .filter((archive): archive is Archive => archive !== null)
      .map((archive) => ({
        filename: archive.filename,
        description: DESCRIPTIONS[archive.filename] ?? archive.filename.replace(/\.(tar\.bz2|zip)$/, ''),
        sizeBytes: String(archive.size),
        lastModified: archive.lastModified.toISOString(),
      }));
  }

  async find(filename: string): Promise<Archive | null> {
    const path = join(this.dir, filename);
    const info = await stat(path).catch(() => null);
    if (!info?.isFile()) return null;
    const override = this.lastModifiedOverrides.get(filename);
    const etagParts = [info.size, Math.floor(info.mtimeMs), override?.getTime()].filter(
      (n) => n !== undefined,
    );
    return {
      filename,
      path,
      size: info.size,
      lastModified: override ?? info.mtime,
      etag: `"${etagParts.map((n) => n.toString(16)).join('-')}"`,
    };
  }
}

function archiveType(filename: string): string {
  return filename.endsWith('.zip') ? 'application/zip' : 'application/x-bzip2';
}

function isArchiveName(name: string): boolean {
  return name.endsWith('.tar.bz2') || name.endsWith('.zip');
}

/** The archive file name of a `/get/{filename}` path segment, or null for anything path-like. */
export function archiveNameFromPath(segment: string): string | null {
  if (/%(2f|5c|00)/i.test(segment)) return null; // encoded `/`, `\`, NUL
  let name: string;
  try {
    name = decodeURIComponent(segment);
  } catch {
    return null;
  }
  if (/[/\\\0]/.test(name) || name.includes('..') || !isArchiveName(name)) return null;
  return name;
}

// --- HTTP semantics ----------------------------------------------------------------------------

/** RFC 9110 13.1.2: weak comparison, `*` matches any. */
function etagListMatches(header: string, etag: string): boolean {
  const opaque = (tag: string) => tag.trim().replace(/^W\//, '');
  return header.split(',').some((tag) => tag.trim() === '*' || opaque(tag) === opaque(etag));
}

/**
 * A single `bytes=` range (RFC 9110 14.1.2) as inclusive offsets; null means "serve it whole"
 * (no header, a syntax we ignore, or several ranges).
 */
export function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | 'unsatisfiable' | null {
  const match = header ? /^bytes=(\d*)-(\d*)$/.exec(header.trim()) : null;
  if (!match) return null;
  const [, first = '', last = ''] = match;
  if (first === '') {
    if (last === '') return null;
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  if (last !== '' && Number(last) < start) return null;
  if (start >= size) return 'unsatisfiable';
  return { start, end: last === '' ? size - 1 : Math.min(Number(last), size - 1) };
}
