import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildFixtureArchives, buildZip, fixtureEntries } from '@lovsync/testkit/archive/archive-builder';
import { startEmulator } from '@lovsync/testkit/emulator/server';
import type { Emulator, ListEntry } from '@lovsync/testkit/emulator/server';

const GJELDENDE = 'gjeldende-lover.tar.bz2';
const LOVTIDEND = 'lovtidend-avd1-2025.tar.bz2';

let dir: string;
let emulator: Emulator;
let gjeldende: Buffer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lovsync-emulator-'));
  await buildFixtureArchives(dir);
  gjeldende = await readFile(join(dir, GJELDENDE));
  emulator = await startEmulator({ dir });
});

afterAll(async () => {
  await emulator?.close();
  await rm(dir, { recursive: true, force: true });
});

afterEach(() => {
  emulator.setFault(null);
  emulator.resetRequests();
});

const listUrl = () => `${emulator.url}/v1/publicData/list`;
const getUrl = (filename: string) => `${emulator.url}/v1/publicData/get/${filename}`;

type RawResponse = { status: number; headers: IncomingHttpHeaders; body: Buffer; error: Error | null };

/** A request with node:http, which sends the path verbatim (fetch would normalise `..`) and reports partial bodies. */
function rawGet(path: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(`${emulator.url}${path}`, { headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let error: Error | null = null;
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', (e) => (error = e));
      res.on('aborted', () => (error ??= new Error('aborted')));
      res.on('close', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), error }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe('list endpoint', () => {
  it('lists every archive with the real API shape', async () => {
    const response = await fetch(listUrl());
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const list = (await response.json()) as ListEntry[];
    expect(list.map((entry) => entry.filename)).toEqual([GJELDENDE, LOVTIDEND]);
    for (const entry of list) {
      expect(Object.keys(entry).sort()).toEqual(['description', 'filename', 'lastModified', 'sizeBytes']);
      expect(typeof entry.sizeBytes).toBe('string');
      expect(Number.isNaN(Date.parse(entry.lastModified))).toBe(false);
    }
    expect(list[0]!.sizeBytes).toBe(String(gjeldende.length));
  });

  it('re-reads the directory on each request and honours setLastModified', async () => {
    await buildZip(fixtureEntries('gjeldende-lover'), join(dir, 'extra.zip'));
    await copyFile(join(dir, GJELDENDE), join(dir, 'ignored.txt'));
    const date = new Date('2025-11-08T02:31:59.418Z');
    emulator.setLastModified(GJELDENDE, date);
    try {
      const list = (await (await fetch(listUrl())).json()) as ListEntry[];
      expect(list.map((entry) => entry.filename)).toEqual(['extra.zip', GJELDENDE, LOVTIDEND]);
      expect(list[1]!.lastModified).toBe(date.toISOString());
      const head = await fetch(getUrl(GJELDENDE), { method: 'HEAD' });
      expect(head.headers.get('last-modified')).toBe(date.toUTCString());
      const zip = await fetch(getUrl('extra.zip'));
      expect(zip.headers.get('content-type')).toBe('application/zip');
      expect((await zip.arrayBuffer()).byteLength).toBe(Number(list[0]!.sizeBytes));
    } finally {
      emulator.setLastModified(GJELDENDE, null);
      await rm(join(dir, 'extra.zip'));
      await rm(join(dir, 'ignored.txt'));
    }
  });
});

describe('get endpoint', () => {
  it('serves the archive with Content-Type, Content-Length, Last-Modified, ETag, Accept-Ranges', async () => {
    const response = await fetch(getUrl(GJELDENDE));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/x-bzip2');
    expect(response.headers.get('content-length')).toBe(String(gjeldende.length));
    expect(response.headers.get('accept-ranges')).toBe('bytes');
    expect(response.headers.get('etag')).toMatch(/^"[0-9a-f-]+"$/);
    const lastModified = response.headers.get('last-modified')!;
    const listed = ((await (await fetch(listUrl())).json()) as ListEntry[])[0]!;
    expect(Date.parse(lastModified)).toBe(Math.floor(Date.parse(listed.lastModified) / 1000) * 1000);
    expect(Buffer.from(await response.arrayBuffer()).equals(gjeldende)).toBe(true);
  });

  it('answers 304 to a matching If-None-Match or a not-older If-Modified-Since', async () => {
    const first = await fetch(getUrl(GJELDENDE), { method: 'HEAD' });
    const etag = first.headers.get('etag')!;
    const lastModified = first.headers.get('last-modified')!;

    const byEtag = await fetch(getUrl(GJELDENDE), { headers: { 'If-None-Match': etag } });
    expect(byEtag.status).toBe(304);
    expect(byEtag.headers.get('etag')).toBe(etag);
    expect(await fetch(getUrl(GJELDENDE), { headers: { 'If-None-Match': `W/${etag}` } })).toHaveProperty(
      'status',
      304,
    );
    expect(await fetch(getUrl(GJELDENDE), { headers: { 'If-None-Match': '"other"' } })).toHaveProperty(
      'status',
      200,
    );

    const byDate = await fetch(getUrl(GJELDENDE), { headers: { 'If-Modified-Since': lastModified } });
    expect(byDate.status).toBe(304);
    const older = new Date(Date.parse(lastModified) - 1000).toUTCString();
    expect(await fetch(getUrl(GJELDENDE), { headers: { 'If-Modified-Since': older } })).toHaveProperty(
      'status',
      200,
    );

    emulator.setLastModified(GJELDENDE, new Date('2030-01-01T00:00:00Z'));
    try {
      const changed = await fetch(getUrl(GJELDENDE), { headers: { 'If-None-Match': etag } });
      expect(changed.status).toBe(200);
      expect(changed.headers.get('etag')).not.toBe(etag);
      await changed.arrayBuffer();
    } finally {
      emulator.setLastModified(GJELDENDE, null);
    }
    expect(emulator.requests.map((r) => r.headers['if-none-match'] ?? null)).toContain(etag);
  });

  it('serves byte ranges with 206 and Content-Range', async () => {
    const size = gjeldende.length;
    const open = await fetch(getUrl(GJELDENDE), { headers: { Range: 'bytes=1000-' } });
    expect(open.status).toBe(206);
    expect(open.headers.get('content-range')).toBe(`bytes 1000-${size - 1}/${size}`);
    expect(open.headers.get('content-length')).toBe(String(size - 1000));
    expect(Buffer.from(await open.arrayBuffer()).equals(gjeldende.subarray(1000))).toBe(true);

    const closed = await fetch(getUrl(GJELDENDE), { headers: { Range: 'bytes=10-19' } });
    expect(closed.status).toBe(206);
    expect(closed.headers.get('content-range')).toBe(`bytes 10-19/${size}`);
    expect(Buffer.from(await closed.arrayBuffer()).equals(gjeldende.subarray(10, 20))).toBe(true);

    const suffix = await fetch(getUrl(GJELDENDE), { headers: { Range: 'bytes=-5' } });
    expect(Buffer.from(await suffix.arrayBuffer()).equals(gjeldende.subarray(size - 5))).toBe(true);

    const stale = await fetch(getUrl(GJELDENDE), {
      headers: { Range: 'bytes=10-19', 'If-Range': '"stale"' },
    });
    expect(stale.status).toBe(200);
    await stale.arrayBuffer();

    expect(emulator.requests.map((r) => r.headers.range)).toContain('bytes=10-19');
  });

  it('answers 416 to an unsatisfiable range', async () => {
    const response = await fetch(getUrl(GJELDENDE), { headers: { Range: `bytes=${gjeldende.length}-` } });
    expect(response.status).toBe(416);
    expect(response.headers.get('content-range')).toBe(`bytes */${gjeldende.length}`);
  });

  it.each([
    '/v1/publicData/get/../gjeldende-lover.tar.bz2',
    '/v1/publicData/get/..%2Fgjeldende-lover.tar.bz2',
    '/v1/publicData/get/x%2F..%2Fgjeldende-lover.tar.bz2',
    '/v1/publicData/get/%2e%2e%2fetc%2fpasswd',
    '/v1/publicData/get/sub/gjeldende-lover.tar.bz2',
    '/v1/publicData/get/..%5Cgjeldende-lover.tar.bz2',
    '/v1/publicData/get/unknown.tar.bz2',
    '/v1/publicData/get/',
    '/v1/publicData/nothing',
  ])('answers 404 JSON to %s', async (path) => {
    const response = await rawGet(path);
    expect(response.status).toBe(404);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(response.body.toString())).toHaveProperty('error', 'Not Found');
  });

  it('logs method, url, headers and status of every request', async () => {
    await fetch(getUrl(GJELDENDE), { method: 'HEAD', headers: { Range: 'bytes=0-1' } });
    expect(emulator.requests).toEqual([
      expect.objectContaining({
        method: 'HEAD',
        url: `/v1/publicData/get/${GJELDENDE}`,
        status: 206,
        fault: null,
        headers: expect.objectContaining({ range: 'bytes=0-1' }),
      }),
    ]);
  });
});

describe('faults', () => {
  it('status: answers 500 for `count` requests, then recovers', async () => {
    emulator.setFault({ kind: 'status', status: 500, count: 2 });
    expect((await fetch(listUrl())).status).toBe(500);
    const second = await fetch(getUrl(GJELDENDE));
    expect(second.status).toBe(500);
    expect(await second.json()).toEqual({ error: 'Internal Server Error' });
    expect((await fetch(listUrl())).status).toBe(200);
    expect(emulator.requests.map((r) => [r.status, r.fault])).toEqual([
      [500, 'status'],
      [500, 'status'],
      [200, null],
    ]);
  });

  it('path filter: a fault on get leaves list alone', async () => {
    emulator.setFault({ kind: 'status', status: 503, path: 'get', count: 1 });
    expect((await fetch(listUrl())).status).toBe(200);
    expect((await fetch(getUrl(GJELDENDE))).status).toBe(503);
    expect((await fetch(getUrl(GJELDENDE))).status).toBe(200);
  });

  it('rate-limit: 429 with Retry-After', async () => {
    emulator.setFault({ kind: 'rate-limit', retryAfterSeconds: 7 });
    const response = await fetch(getUrl(GJELDENDE));
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('7');
  });

  it('slow: the body trickles at the given rate', async () => {
    const range = { Range: 'bytes=0-9999' };
    let started = performance.now();
    await (await fetch(getUrl(GJELDENDE), { headers: range })).arrayBuffer();
    const fast = performance.now() - started;

    emulator.setFault({ kind: 'slow', bytesPerSecond: 20_000, count: 1 });
    started = performance.now();
    const body = Buffer.from(await (await fetch(getUrl(GJELDENDE), { headers: range })).arrayBuffer());
    const slow = performance.now() - started;
    expect(body.equals(gjeldende.subarray(0, 10_000))).toBe(true);
    expect(slow).toBeGreaterThan(400); // 10,000 bytes at 20,000 B/s: about 500 ms
    expect(fast).toBeLessThan(slow);
  });

  it('truncate: full Content-Length, then the connection drops after afterBytes', async () => {
    emulator.setFault({ kind: 'truncate', afterBytes: 1000 });
    const raw = await rawGet(`/v1/publicData/get/${GJELDENDE}`);
    expect(raw.status).toBe(200);
    expect(raw.headers['content-length']).toBe(String(gjeldende.length));
    expect(raw.body.length).toBe(1000);
    expect(raw.body.equals(gjeldende.subarray(0, 1000))).toBe(true);
    expect(raw.error).not.toBeNull();

    const response = await fetch(getUrl(GJELDENDE));
    expect(response.headers.get('content-length')).toBe(String(gjeldende.length));
    await expect(response.arrayBuffer()).rejects.toThrow();
  });

  it('html: 200 with an HTML error page', async () => {
    emulator.setFault({ kind: 'html' });
    const response = await fetch(getUrl(GJELDENDE));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await response.text()).toMatch(/^<!DOCTYPE html>/);
  });

  it('malformed-json: the list is not JSON; get is unaffected', async () => {
    emulator.setFault({ kind: 'malformed-json' });
    expect((await fetch(getUrl(GJELDENDE))).status).toBe(200);
    const response = await fetch(listUrl());
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    await expect(response.json()).rejects.toThrow(SyntaxError);
  });

  it('wrong-type: archive bytes served as text/plain', async () => {
    emulator.setFault({ kind: 'wrong-type' });
    expect((await fetch(listUrl())).headers.get('content-type')).toMatch(/^application\/json/);
    const response = await fetch(getUrl(GJELDENDE));
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(Buffer.from(await response.arrayBuffer()).equals(gjeldende)).toBe(true);
  });

  it('list-override: the list answers with the given JSON', async () => {
    const body = [{ filename: '../x', lastModified: 'yesterday', sizeBytes: 12 }];
    emulator.setFault({ kind: 'list-override', body });
    expect(await (await fetch(listUrl())).json()).toEqual(body);
  });

  it('hang: never answers, so the client times out', async () => {
    emulator.setFault({ kind: 'hang', count: 1 });
    await expect(fetch(listUrl(), { signal: AbortSignal.timeout(300) })).rejects.toThrow(/aborted|timeout/i);
    expect(emulator.requests[0]).toMatchObject({ status: null, fault: 'hang' });
    expect((await fetch(listUrl())).status).toBe(200);
  });
});

describe('lifecycle', () => {
  it('close() ends hung connections and frees the port', async () => {
    const own = await startEmulator({ dir, port: 0 });
    own.setFault({ kind: 'hang' });
    const pending = fetch(`${own.url}/v1/publicData/list`).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await own.close();
    expect(await pending).toBeInstanceOf(Error);
    await expect(fetch(`${own.url}/v1/publicData/list`)).rejects.toThrow();
  });
});
