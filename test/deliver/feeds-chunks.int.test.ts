/**
 * Atom feeds, the chunk change stream and the subscriptions API/CLI (issue 14) over real runs of
 * the fixtures (emulator, sync, differ, parser, Postgres, Redis) and a real HTTP server.
 */
import { execFile } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { SaxesParser } from 'saxes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRun, finishSyncPhase, getRun } from '@lovsync/shared/db';
import { processParseJob } from '@lovsync/parser';
import { buildTarBz2, fixtureEntries } from '@lovsync/testkit/archive/archive-builder';
import type { ArchiveEntry } from '@lovsync/testkit/archive/archive-entry';
import { startEmulator, type Emulator } from '@lovsync/testkit/emulator/server';
import { createTestEnv, type TestEnv } from '@lovsync/testkit/support/harness';
import { createTestContext, rows } from '@lovsync/testkit/support/context';
import { parsePending, syncAndDiff } from '@lovsync/testkit/support/cycle';
import type { Runtime } from '@lovsync/shared/runtime';
import { createMetrics } from '@lovsync/app/http/metrics';
import { startHttpServer, type HttpServer } from '@lovsync/app/http/server';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const exec = promisify(execFile);
const LOVER = 'gjeldende-lover.tar.bz2';
const HUSLEIE = 'nl/nl-19990326-017.xml';
const HUSLEIE_ID = 'NL/lov/1999-03-26-17';
const AUTH = { authorization: `Basic ${Buffer.from('u:pw-0123456789').toString('base64')}` };

let env: TestEnv;
let emu: Emulator;
let ctx: Runtime;
let http: HttpServer;
let archives: string;
let lover: ArchiveEntry[];

interface XmlNode {
  name: string;
  attrs: Record<string, string>;
  children: XmlNode[];
  text: string;
}
/** Parses XML strictly (saxes: well-formedness errors throw) into a small tree. */
function parseXml(xml: string): XmlNode {
  const parser = new SaxesParser({ xmlns: true });
  const root: XmlNode = { name: '#root', attrs: {}, children: [], text: '' };
  const stack = [root];
  parser.on('opentag', (t) => {
    const node: XmlNode = {
      name: `${t.uri}|${t.local}`,
      attrs: Object.fromEntries(Object.values(t.attributes).map((a) => [a.local, a.value])),
      children: [],
      text: '',
    };
    stack.at(-1)!.children.push(node);
    stack.push(node);
  });
  parser.on('text', (s) => (stack.at(-1)!.text += s));
  parser.on('closetag', () => void stack.pop());
  parser.write(xml).close();
  return root.children[0]!;
}
const ATOM = 'http://www.w3.org/2005/Atom|';
const kids = (n: XmlNode, local: string) => n.children.filter((c) => c.name === ATOM + local);
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** RFC 4287's requirements on a feed document; returns its entries. */
function validateAtom(xml: string): XmlNode[] {
  const feed = parseXml(xml);
  expect(feed.name).toBe(`${ATOM}feed`);
  for (const one of ['id', 'title', 'updated']) expect(kids(feed, one)).toHaveLength(1);
  expect(kids(feed, 'updated')[0]!.text).toMatch(RFC3339);
  expect(kids(feed, 'id')[0]!.text).toMatch(/^[a-z][a-z0-9+.-]*:/); // an IRI
  const feedAuthor = kids(feed, 'author').length > 0;
  if (feedAuthor) expect(kids(kids(feed, 'author')[0]!, 'name')).toHaveLength(1);
  expect(kids(feed, 'link').some((l) => l.attrs.rel === 'self')).toBe(true);
  const entries = kids(feed, 'entry');
  const ids = new Set<string>();
  for (const e of entries) {
    for (const one of ['id', 'title', 'updated']) expect(kids(e, one)).toHaveLength(1);
    expect(kids(e, 'updated')[0]!.text).toMatch(RFC3339);
    expect(feedAuthor || kids(e, 'author').length > 0).toBe(true);
    // No atom:content: an alternate link and a summary are required.
    expect(kids(e, 'link').some((l) => (l.attrs.rel ?? 'alternate') === 'alternate')).toBe(true);
    expect(kids(e, 'summary')).toHaveLength(1);
    for (const c of kids(e, 'category')) expect(c.attrs.term).toBeTruthy();
    const id = kids(e, 'id')[0]!.text;
    expect(ids.has(id)).toBe(false);
    ids.add(id);
  }
  return entries;
}
const entryIds = (entries: XmlNode[]) => entries.map((e) => kids(e, 'id')[0]!.text);

async function publish(name: string, entries: ArchiveEntry[]) {
  await buildTarBz2(entries, join(archives, name));
}
async function cycle(order?: 'removals-first' | 'additions-first'): Promise<number> {
  const r = await syncAndDiff(ctx, true);
  await parsePending(
    ctx,
    r.runId,
    order &&
      ((a, b) =>
        ((a.change === 'removed') === (order === 'removals-first') ? -1 : 0) -
        ((b.change === 'removed') === (order === 'removals-first') ? -1 : 0)),
  );
  expect((await getRun(env.database.pool, r.runId))!.status).toBe('succeeded');
  return r.runId;
}
function edit(entries: ArchiveEntry[], path: string, from: string, to: string): ArchiveEntry[] {
  return entries.map((e) => {
    if (e.path !== path) return e;
    const xml = (e.content as Buffer).toString('utf8');
    if (!xml.includes(from)) throw new Error(`"${from}" not in ${path}`);
    return { ...e, content: Buffer.from(xml.replace(from, to)) };
  });
}
async function get(path: string, headers: Record<string, string> = {}) {
  const res = await fetch(http.url + path, { headers: { ...AUTH, ...headers } });
  return {
    status: res.status,
    body: await res.text(),
    etag: res.headers.get('etag'),
    type: res.headers.get('content-type'),
  };
}
async function chunkPage(since: string) {
  const r = await get(`/api/chunks/changes?since=${encodeURIComponent(since)}&limit=10000`);
  expect(r.status).toBe(200);
  return JSON.parse(r.body) as {
    items: {
      chunkId: string;
      sectionKey: string;
      documentId: string;
      change: string;
      editorialOnly: boolean;
      text: string | null;
      newHash: string | null;
      oldHash: string | null;
      cursor: string;
    }[];
    nextCursor: string;
    hasMore: boolean;
  };
}
const chunkState = async () =>
  new Map(
    (
      await rows<{ chunk_id: string; content_hash: string; section_key: string }>(
        env,
        'SELECT chunk_id, content_hash, section_key FROM chunks',
      )
    ).map((c) => [c.chunk_id, c]),
  );

beforeAll(async () => {
  env = await createTestEnv('feeds_chunks');
  archives = join(env.tmp, 'archives');
  await mkdir(archives, { recursive: true });
  emu = await startEmulator({ dir: archives });
  ctx = createTestContext(env, {
    LOVDATA_API_URL: emu.url,
    DASHBOARD_USER: 'u',
    DASHBOARD_PASSWORD: 'pw-0123456789',
  });
  http = await startHttpServer(ctx, {
    dashboard: true,
    metrics: createMetrics(ctx),
    isShuttingDown: () => false,
    port: 0,
    host: '127.0.0.1',
  });
  lover = fixtureEntries('gjeldende-lover');
});
afterAll(async () => {
  await http?.close();
  await ctx?.close();
  await emu?.close();
  await env?.teardown();
});

describe('chunk change stream, Atom feeds', () => {
  let cursor = '0';

  it('editing one § of husleieloven gives only that §’s chunks as modified; other chunk ids and hashes are unchanged', async () => {
    await publish(LOVER, lover);
    const r1 = await cycle();
    const first = await chunkPage('0');
    const n = (await rows<{ n: number }>(env, 'SELECT count(*)::int AS n FROM chunks'))[0]!.n;
    expect(first.items).toHaveLength(n);
    expect(
      first.items.every((i) => i.change === 'added' && i.text !== null && i.cursor.startsWith(`${r1}:`)),
    ).toBe(true);
    cursor = first.nextCursor;
    expect((await chunkPage(cursor)).items).toEqual([]);

    const before = await chunkState();
    lover = edit(
      lover,
      HUSLEIE,
      'mindre gunstige for leieren',
      'mindre gunstige for leieren &lt;script&gt;alert(1)&lt;/script&gt; &amp; co',
    );
    await publish(LOVER, lover);
    const r2 = await cycle();
    const page = await chunkPage(cursor);
    expect(page.items.length).toBeGreaterThan(0);
    expect(page.items.map((i) => [i.documentId, i.sectionKey, i.change, i.editorialOnly])).toEqual(
      page.items.map(() => [HUSLEIE_ID, '§1-2', 'modified', false]),
    );
    expect(
      page.items.every(
        (i) => i.cursor.startsWith(`${r2}:`) && i.text!.includes('<script>alert(1)</script> & co'),
      ),
    ).toBe(true);
    const after = await chunkState();
    for (const [id, c] of before) {
      if (c.section_key === '§1-2' && id.startsWith(`${HUSLEIE_ID}/`))
        expect(after.get(id)!.content_hash).not.toBe(c.content_hash);
      else expect(after.get(id)).toEqual(c);
    }
    expect(after.size).toBe(before.size);
    cursor = page.nextCursor;
  });

  it('a punctuation-only edit is flagged editorial_only', async () => {
    lover = edit(lover, HUSLEIE, 'til avtalt tid.', 'til avtalt tid;');
    await publish(LOVER, lover);
    await cycle();
    const page = await chunkPage(cursor);
    expect(page.items.map((i) => [i.sectionKey, i.change, i.editorialOnly])).toEqual([
      ['§2-1', 'modified', true],
    ]);
    cursor = page.nextCursor;
  });

  it.each(['removals-first', 'additions-first'] as const)(
    'a whole-archive rename (%s) yields no chunk changes',
    async (order) => {
      const lti = fixtureEntries('lovtidend-avd1-2025');
      await publish('lovtidend-avd1-2025.tar.bz2', lti);
      await cycle();
      cursor = (await chunkPage(cursor)).nextCursor;
      await rm(join(archives, 'lovtidend-avd1-2025.tar.bz2'));
      await publish('lovtidend-avd1-2001-2025.tar.bz2', lti);
      const r = await cycle(order);
      expect(await rows(env, 'SELECT * FROM chunk_changes WHERE run_id = $1', [r])).toEqual([]);
      expect(await rows(env, `SELECT event FROM outbox WHERE run_id = $1`, [r])).toEqual([
        { event: 'run.finished' },
      ]);
      const page = await chunkPage(cursor);
      expect(page.items).toEqual([]);
      expect(page.nextCursor).toBe(String(r));
      cursor = page.nextCursor;
      // back to one archive name for the next case
      await rm(join(archives, 'lovtidend-avd1-2001-2025.tar.bz2'));
      await publish('lovtidend-avd1-2025.tar.bz2', lti);
      await cycle(order);
      cursor = (await chunkPage(cursor)).nextCursor;
    },
  );

  it('a reparse of an unchanged file (same content, parsed again in a new run) yields no chunk changes and no events', async () => {
    const [f] = await rows<{ dataset: string; path: string; hash: string }>(
      env,
      `SELECT dataset, path, hash FROM files WHERE path = $1`,
      [HUSLEIE],
    );
    const runId = await createRun(env.database.pool, {
      trigger: 'manual',
      force: false,
      datasetFilter: null,
    });
    const [fc] = await rows<{ id: number }>(
      env,
      `INSERT INTO file_changes (run_id, dataset, path, change, old_hash, new_hash, old_size, new_size)
       SELECT $1, dataset, path, 'modified', hash, hash, size, size FROM files WHERE dataset = $2 AND path = $3 RETURNING id`,
      [runId, f!.dataset, f!.path],
    );
    await finishSyncPhase(env.database.pool, runId, { datasetsChecked: 0 });
    const out = await processParseJob(ctx, {
      runId,
      fileChangeId: fc!.id,
      dataset: f!.dataset,
      path: f!.path,
      change: 'modified',
      newHash: f!.hash,
      oldHash: f!.hash,
    });
    expect(out).toMatchObject({ outcome: 'parsed', change: null });
    expect((await getRun(env.database.pool, runId))!.status).toBe('succeeded');
    expect(await rows(env, 'SELECT * FROM chunk_changes WHERE run_id = $1', [runId])).toEqual([]);
    expect(await rows(env, `SELECT event FROM outbox WHERE run_id = $1`, [runId])).toEqual([
      { event: 'run.finished' },
    ]);
    expect((await chunkPage(cursor)).items).toEqual([]);
  });

  it('Atom feeds validate (RFC 4287), one entry per changed document per run, §s as categories, escaped, stable ids; an unchanged run adds nothing; If-None-Match gives 304', async () => {
    const all = await get('/feeds/changes.atom');
    expect(all.status).toBe(200);
    expect(all.type).toMatch(/^application\/atom\+xml/);
    const entries = validateAtom(all.body);
    const n = (await rows<{ n: number }>(env, `SELECT count(*)::int AS n FROM document_changes`))[0]!.n;
    // 50 a page: follow rel="next" to the end.
    let total = entries.length;
    let next = kids(parseXml(all.body), 'link').find((l) => l.attrs.rel === 'next')?.attrs.href;
    while (next) {
      const page = await get(new URL(next).pathname + new URL(next).search);
      const more = validateAtom(page.body);
      total += more.length;
      next = kids(parseXml(page.body), 'link').find((l) => l.attrs.rel === 'next')?.attrs.href;
    }
    expect(total).toBe(n);

    const doc = await get(`/feeds/documents/${HUSLEIE_ID}.atom`);
    const docEntries = validateAtom(doc.body);
    const m = (
      await rows<{ m: number }>(
        env,
        `SELECT count(*)::int AS m FROM document_changes WHERE document_id = $1`,
        [HUSLEIE_ID],
      )
    )[0]!.m;
    expect(docEntries).toHaveLength(m);
    const edited = docEntries.find((e) => kids(e, 'category').some((c) => c.attrs.term === '§1-2'))!;
    expect(kids(edited, 'summary')[0]!.text).toContain('<script>alert(1)</script> & co');
    expect(doc.body).not.toContain('<script>');

    for (const path of [
      '/feeds/legal-areas/husleie.atom',
      '/feeds/ministries/kommunal-og-distriktsdepartementet.atom',
    ]) {
      const f = await get(path);
      expect(f.status).toBe(200);
      expect(entryIds(validateAtom(f.body))).toEqual(expect.arrayContaining(entryIds(docEntries)));
    }
    const nothing = await get('/feeds/legal-areas/no-such-area.atom');
    expect(validateAtom(nothing.body)).toEqual([]);

    // Conditional GET, and an unchanged run: the same entries, the same ETag, 304.
    expect((await get('/feeds/changes.atom', { 'if-none-match': all.etag! })).status).toBe(304);
    await cycle();
    const again = await get('/feeds/changes.atom');
    expect(entryIds(validateAtom(again.body))).toEqual(entryIds(entries));
    expect(again.etag).toBe(all.etag);
    expect((await get('/feeds/changes.atom', { 'if-none-match': all.etag! })).status).toBe(304);
    expect((await get('/feeds/changes.atom', { 'if-none-match': '"other"' })).status).toBe(200);
    // Bad input: 400, not a crash.
    expect((await get('/feeds/changes.atom?before=abc')).status).toBe(400);
    expect((await get('/feeds/documents/..%2Fx.atom')).status).toBe(400);
    expect((await fetch(`${http.url}/feeds/changes.atom`)).status).toBe(401);
  });
});

describe('subscriptions API and CLI', () => {
  it('create, list (no secret), delete; invalid input is a 400 naming the field; auth required', async () => {
    const post = (body: unknown, headers: Record<string, string> = AUTH) =>
      fetch(`${http.url}/api/subscriptions`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const created = await post({
      url: 'http://127.0.0.1:9/hook',
      secret: 'secret-0123456789',
      legalArea: 'Husleie',
    });
    expect(created.status).toBe(201);
    const sub = (await created.json()) as {
      id: number;
      filterKind: string;
      filterValues: string[];
      events: string[];
    };
    expect(sub).toMatchObject({ filterKind: 'legal_area', filterValues: ['husleie'] });
    expect(sub.events).not.toContain('run.finished');
    const list = await get('/api/subscriptions');
    expect(list.body).not.toContain('secret-0123456789');
    expect(JSON.parse(list.body).items.map((s: { id: number }) => s.id)).toContain(sub.id);
    for (const [body, message] of [
      [{ url: 'ftp://x/y', secret: 'secret-0123456789', all: true }, 'url'],
      [{ url: 'http://user:pw@x/y', secret: 'secret-0123456789', all: true }, 'credentials'],
      [{ url: 'http://x/y', secret: 'short', all: true }, 'secret'],
      [{ url: 'http://x/y', secret: 'secret-0123456789' }, 'exactly one'],
      [{ url: 'http://x/y', secret: 'secret-0123456789', all: true, ministry: 'x' }, 'exactly one'],
      [{ url: 'http://x/y', secret: 'secret-0123456789', all: true, events: ['nope'] }, 'events'],
    ] as const) {
      const r = await post(body);
      expect(r.status).toBe(400);
      expect(((await r.json()) as { error: string }).error).toContain(message);
    }
    expect((await post({ url: 'http://x/y', secret: 'secret-0123456789', all: true }, {})).status).toBe(401);
    const del = await fetch(`${http.url}/api/subscriptions/${sub.id}`, { method: 'DELETE', headers: AUTH });
    expect(del.status).toBe(204);
    expect(
      (await fetch(`${http.url}/api/subscriptions/${sub.id}`, { method: 'DELETE', headers: AUTH })).status,
    ).toBe(404);
  });

  it('lovsync subscribe add/list/remove and chunks changes --json', async () => {
    const run = async (args: string[]) => {
      try {
        const r = await exec(process.execPath, ['apps/lovsync/bin/lovsync.js', ...args], {
          cwd: ROOT,
          env: { ...process.env, ...env.env() },
        });
        return { code: 0, stdout: r.stdout, stderr: r.stderr };
      } catch (err) {
        const e = err as { code: number; stdout: string; stderr: string };
        return { code: e.code, stdout: e.stdout, stderr: e.stderr };
      }
    };
    const bad = await run([
      'subscribe',
      'add',
      '--url',
      'not a url',
      '--secret',
      'secret-0123456789',
      '--all',
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('invalid --url');
    const added = await run([
      'subscribe',
      'add',
      '--url',
      'https://example.org/h',
      '--secret',
      'secret-0123456789',
      '--document',
      HUSLEIE_ID,
      '--events',
      'document.modified,section.modified',
      '--json',
    ]);
    expect(added.code).toBe(0);
    const s = JSON.parse(added.stdout) as { id: number; filterKind: string; events: string[] };
    expect(s).toMatchObject({ filterKind: 'documents', events: ['document.modified', 'section.modified'] });
    const listed = await run(['subscribe', 'list', '--json']);
    expect(JSON.parse(listed.stdout).map((x: { id: number }) => x.id)).toContain(s.id);
    expect((await run(['subscribe', 'remove', String(s.id)])).code).toBe(0);
    const chunks = await run(['chunks', 'changes', '--since', '0', '--limit', '5', '--json']);
    expect(chunks.code).toBe(0);
    const page = JSON.parse(chunks.stdout) as { items: unknown[]; nextCursor: string; hasMore: boolean };
    expect(page).toMatchObject({ hasMore: true });
    expect(page.items).toEqual((await chunkPage('0')).items.slice(0, 5));
    expect((await run(['chunks', 'changes', '--since', 'x:y'])).stderr).toContain('invalid cursor');
  }, 240_000);
});
