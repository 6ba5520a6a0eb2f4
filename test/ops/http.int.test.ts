/**
 * The HTTP server over real sockets with real Postgres and Redis: authentication, loopback binding
 * without credentials, the JSON API against seeded rows, input validation, triggering a sync,
 * readiness and metrics, and fast failures while Redis is down.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics } from '@lovsync/app/http/metrics';
import { startHttpServer } from '@lovsync/app/http/server';
import { createRuntime, type Runtime } from '@lovsync/shared/runtime';
import { createTestEnv, type TestEnv } from '@lovsync/testkit/support/harness';
import { captureLogger, type LogLine } from './capture-logger.ts';
import { DOC_ID, DOC_ID_2, seedHistory, type Seeded } from './seed.ts';

const USER = 'admin';
const PASSWORD = 'correct horse battery staple';
const auth = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const GOOD = { authorization: auth(USER, PASSWORD) };

type Started = Awaited<ReturnType<typeof startHttpServer>>;

let env: TestEnv;
let seeded: Seeded;

beforeAll(async () => {
  env = await createTestEnv('ops_http');
  seeded = await seedHistory(env.database.pool);
});

afterAll(async () => {
  await env?.teardown();
});

async function getJson(url: string, headers: Record<string, string> = GOOD) {
  const res = await fetch(url, { headers });
  const body = (await res.json()) as Record<string, unknown>;
  return { status: res.status, body, res };
}

describe('with DASHBOARD_USER/DASHBOARD_PASSWORD', () => {
  let rt: Runtime;
  let http: Started;
  let shuttingDown = false;
  let metrics: ReturnType<typeof createMetrics>;
  let base: string;

  beforeAll(async () => {
    rt = createRuntime(env.config({ DASHBOARD_USER: USER, DASHBOARD_PASSWORD: PASSWORD }), {
      log: env.log,
      poolSize: 4,
    });
    metrics = createMetrics(rt);
    http = await startHttpServer(rt, {
      dashboard: true,
      metrics,
      isShuttingDown: () => shuttingDown,
      port: 0,
      host: '127.0.0.1',
    });
    base = http.url;
  });

  afterAll(async () => {
    await http?.close();
    await rt?.close();
  });

  it('keeps /healthz and /readyz open and reports ready', async () => {
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await getJson(`${base}/readyz`, {});
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({
      ready: true,
      checks: { postgres: { ok: true }, redis: { ok: true } },
    });
  });

  it.each(['/', '/runs/1', '/api/runs', '/metrics', '/admin/queues', '/api/nope'])(
    'requires credentials for %s',
    async (path) => {
      const none = await fetch(`${base}${path}`);
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/^Basic realm="lovsync"/);
      expect(await none.json()).toEqual({ error: 'authentication required', status: 401 });
      const wrongPassword = await fetch(`${base}${path}`, {
        headers: { authorization: auth(USER, `${PASSWORD}x`) },
      });
      expect(wrongPassword.status).toBe(401);
      const wrongUser = await fetch(`${base}${path}`, { headers: { authorization: auth('root', PASSWORD) } });
      expect(wrongUser.status).toBe(401);
      const garbage = await fetch(`${base}${path}`, { headers: { authorization: 'Bearer abc' } });
      expect(garbage.status).toBe(401);
    },
  );

  it('answers 200 with the right credentials', async () => {
    for (const path of ['/', `/runs/${seeded.changedRunId}`, '/api/runs', '/metrics', '/admin/queues']) {
      const res = await fetch(`${base}${path}`, { headers: GOOD });
      expect(res.status, path).toBe(200);
    }
  });

  it('binds the requested host when credentials are set', () => {
    expect(http.host).toBe('127.0.0.1');
  });

  it('GET /api/runs lists runs newest first, as in the database, with keyset pagination', async () => {
    const db = await env.database.pool.query<{
      id: number;
      status: string;
      files_added: number;
      bytes_downloaded: number;
    }>('SELECT id, status, files_added, bytes_downloaded FROM sync_runs ORDER BY id DESC');
    const { status, body } = await getJson(`${base}/api/runs`);
    expect(status).toBe(200);
    const items = body.items as {
      id: number;
      status: string;
      filesAdded: number;
      bytesDownloaded: number;
      startedAt: string;
    }[];
    expect(items.map((r) => [r.id, r.status, r.filesAdded, r.bytesDownloaded])).toEqual(
      db.rows.map((r) => [r.id, r.status, r.files_added, r.bytes_downloaded]),
    );
    expect(body.nextBefore).toBeNull();

    const page1 = await getJson(`${base}/api/runs?limit=2`);
    const ids1 = (page1.body.items as { id: number }[]).map((r) => r.id);
    expect(ids1).toEqual([seeded.runningRunId, seeded.failedRunId]);
    expect(page1.body.nextBefore).toBe(seeded.failedRunId);
    const page2 = await getJson(`${base}/api/runs?limit=2&before=${String(page1.body.nextBefore)}`);
    expect((page2.body.items as { id: number }[]).map((r) => r.id)).toEqual([
      seeded.changedRunId,
      seeded.firstRunId,
    ]);
  });

  it('GET /api/runs/:id returns the run row and its datasets', async () => {
    const { status, body } = await getJson(`${base}/api/runs/${seeded.changedRunId}`);
    expect(status).toBe(200);
    const row = (
      await env.database.pool.query(
        `SELECT id, trigger, status, started_at, finished_at, files_added, files_modified, files_removed, files_unchanged,
           parse_total, parse_succeeded, parse_failed, bytes_downloaded, error FROM sync_runs WHERE id = $1`,
        [seeded.changedRunId],
      )
    ).rows[0];
    expect(body).toMatchObject({
      id: row.id,
      trigger: row.trigger,
      status: row.status,
      startedAt: row.started_at.toISOString(),
      finishedAt: row.finished_at.toISOString(),
      filesAdded: row.files_added,
      filesModified: row.files_modified,
      filesRemoved: row.files_removed,
      filesUnchanged: row.files_unchanged,
      parseTotal: row.parse_total,
      parseSucceeded: row.parse_succeeded,
      parseFailed: row.parse_failed,
      bytesDownloaded: row.bytes_downloaded,
      error: null,
    });
    expect(
      (body.datasets as { dataset: string; status: string }[]).map((d) => [d.dataset, d.status]),
    ).toEqual([
      ['gjeldende-lover.tar.bz2', 'diffed'],
      ['gjeldende-sentrale-forskrifter.tar.bz2', 'unchanged'],
    ]);
  });

  it('GET /api/runs/:id/changes pages through file, document and section changes with a total', async () => {
    const files = await env.database.pool.query(
      `SELECT id, dataset, path, change, old_hash, new_hash, parse_status, parse_error FROM file_changes WHERE run_id = $1 ORDER BY dataset, path`,
      [seeded.changedRunId],
    );
    const all = await getJson(`${base}/api/runs/${seeded.changedRunId}/changes?kind=files`);
    expect(all.status).toBe(200);
    expect(all.body).toMatchObject({
      runId: seeded.changedRunId,
      kind: 'files',
      total: 4,
      limit: 100,
      offset: 0,
    });
    expect(
      (all.body.items as Record<string, unknown>[]).map((f) => [
        f.id,
        f.dataset,
        f.path,
        f.change,
        f.oldHash,
        f.newHash,
        f.parseStatus,
        f.parseError,
      ]),
    ).toEqual(
      files.rows.map((f) => [
        f.id,
        f.dataset,
        f.path,
        f.change,
        f.old_hash,
        f.new_hash,
        f.parse_status,
        f.parse_error,
      ]),
    );

    const page = await getJson(`${base}/api/runs/${seeded.changedRunId}/changes?kind=files&limit=2&offset=1`);
    expect(page.body.total).toBe(4);
    expect((page.body.items as { id: number }[]).map((f) => f.id)).toEqual(
      files.rows.slice(1, 3).map((f) => f.id),
    );

    const defaultKind = await getJson(`${base}/api/runs/${seeded.changedRunId}/changes`);
    expect(defaultKind.body.kind).toBe('files');

    const sections = await env.database.pool.query(
      `SELECT document_id, section_key, change, old_text, new_text FROM section_changes WHERE run_id = $1`,
      [seeded.changedRunId],
    );
    const s = await getJson(`${base}/api/runs/${seeded.changedRunId}/changes?kind=sections`);
    expect(s.body.total).toBe(3);
    expect(
      new Set(
        (s.body.items as Record<string, unknown>[]).map((x) =>
          JSON.stringify([x.documentId, x.sectionKey, x.change, x.oldText, x.newText]),
        ),
      ),
    ).toEqual(
      new Set(
        sections.rows.map((x) =>
          JSON.stringify([x.document_id, x.section_key, x.change, x.old_text, x.new_text]),
        ),
      ),
    );
    // ordered like the law: sections that still exist in their document order, removed ones last
    expect((s.body.items as { sectionKey: string }[]).map((x) => x.sectionKey)).toEqual([
      '§1-1',
      '§1-2',
      '§1-3',
    ]);

    const d = await getJson(`${base}/api/runs/${seeded.changedRunId}/changes?kind=documents&limit=1`);
    expect(d.body).toMatchObject({ total: 2, limit: 1, offset: 0 });
    expect(d.body.items).toEqual([
      expect.objectContaining({
        documentId: DOC_ID,
        change: 'modified',
        kind: 'amendment',
        sectionsAdded: 1,
        sectionsModified: 1,
        sectionsRemoved: 1,
        title: 'Lov om husleieavtaler (husleieloven)',
      }),
    ]);

    const empty = await getJson(`${base}/api/runs/${seeded.firstRunId}/changes?kind=sections`);
    expect(empty.body).toMatchObject({ total: 0, items: [] });
  });

  it('GET /api/documents/:id accepts the id URL-encoded and as plain path segments', async () => {
    const row = (
      await env.database.pool.query(
        `SELECT document_id, title, short_title, status, ministries, date_in_force::text[] AS dif, last_run_id FROM documents WHERE document_id = $1`,
        [DOC_ID],
      )
    ).rows[0];
    const encoded = await getJson(`${base}/api/documents/${encodeURIComponent(DOC_ID)}`);
    expect(encoded.status).toBe(200);
    expect(encoded.body).toMatchObject({
      documentId: row.document_id,
      title: row.title,
      shortTitle: row.short_title,
      status: row.status,
      ministries: row.ministries,
      dateInForce: row.dif,
      lastRunId: row.last_run_id,
      lastChangeInForce: '2025-07-01',
      sectionCount: 3,
    });
    const plain = await getJson(`${base}/api/documents/${DOC_ID}`);
    expect(plain.status).toBe(200);
    expect(plain.body).toEqual(encoded.body);
  });

  it('GET /api/documents/:id/sections lists sections in document order, both spellings', async () => {
    const rows = (
      await env.database.pool.query(
        `SELECT section_key, text FROM sections WHERE document_id = $1 ORDER BY ord`,
        [DOC_ID],
      )
    ).rows;
    for (const url of [
      `${base}/api/documents/${encodeURIComponent(DOC_ID)}/sections`,
      `${base}/api/documents/${DOC_ID}/sections`,
    ]) {
      const { status, body } = await getJson(url);
      expect(status, url).toBe(200);
      expect(body).toMatchObject({ documentId: DOC_ID, total: 3 });
      expect(
        (body.items as { sectionKey: string; text: string }[]).map((s) => [s.sectionKey, s.text]),
      ).toEqual(rows.map((r) => [r.section_key, r.text]));
    }
    const paged = await getJson(`${base}/api/documents/${DOC_ID}/sections?limit=1&offset=2`);
    expect((paged.body.items as { sectionKey: string }[]).map((s) => s.sectionKey)).toEqual(['§1-2']);
    const none = await getJson(`${base}/api/documents/${encodeURIComponent(DOC_ID_2)}/sections`);
    expect(none).toMatchObject({ status: 200, body: { total: 0, items: [] } });
  });

  it.each([
    ['/api/runs/abc', 400],
    ['/api/runs/0', 400],
    ['/api/runs/-1', 400],
    ['/api/runs/1.5', 400],
    ['/api/runs/99999999999', 400],
    ['/api/runs/1/changes?kind=bogus', 400],
    ['/api/runs/1/changes?limit=0', 400],
    ['/api/runs/1/changes?offset=-3', 400],
    ['/api/runs/1/changes?surprise=1', 400],
    ['/api/runs?limit=1000', 400],
    ['/api/runs?before=x', 400],
    ['/api/documents/NL%2Flov%2F..%2Fx', 400],
    ['/api/documents/has%20space', 400],
    [`/api/documents/${'x'.repeat(400)}`, 400],
    ['/runs/abc', 400],
    ['/api/runs/424242', 404],
    ['/api/runs/424242/changes', 404],
    ['/api/documents/NL/lov/1900-01-01-0', 404],
    [`/api/documents/${encodeURIComponent('NL/lov/1900-01-01-0')}/sections`, 404],
    ['/api/unknown', 404],
  ])('%s -> %i with a JSON error', async (path, expected) => {
    const { status, body, res } = await getJson(`${base}${path}`);
    expect(status).toBe(expected);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(body).toMatchObject({ status: expected, error: expect.any(String) });
  });

  it('POST /api/runs enqueues a sync job and answers 202 with its id', async () => {
    const res = await fetch(`${base}/api/runs`, {
      method: 'POST',
      headers: { ...GOOD, 'content-type': 'application/json' },
      body: JSON.stringify({ force: true }),
    });
    expect(res.status).toBe(202);
    const body = (await res.json()) as { jobId: string; force: boolean };
    expect(body).toMatchObject({ jobId: expect.any(String), force: true, queue: 'sync' });
    const job = await rt.queues.sync.getJob(body.jobId);
    expect(job?.data).toMatchObject({ trigger: 'api', force: true });
    expect(await rt.queues.sync.getJobCounts('waiting')).toEqual({ waiting: 1 });

    const plain = await fetch(`${base}/api/runs`, {
      method: 'POST',
      headers: { ...GOOD, 'content-type': 'application/json' },
    });
    expect(plain.status).toBe(202);
    expect(
      ((await (await rt.queues.sync.getJob(((await plain.json()) as { jobId: string }).jobId))?.data) ??
        {}) as object,
    ).toMatchObject({
      force: false,
    });
  });

  it.each([
    ['no content type', { body: '{}' }, 415],
    [
      'a form post',
      { body: 'force=true', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
      415,
    ],
    ['malformed JSON', { body: '{force', headers: { 'content-type': 'application/json' } }, 400],
    ['a wrong type', { body: '{"force":"yes"}', headers: { 'content-type': 'application/json' } }, 400],
    [
      'an unknown field',
      { body: '{"force":true,"filter":"x"}', headers: { 'content-type': 'application/json' } },
      400,
    ],
  ])('POST /api/runs refuses %s', async (_name, init, expected) => {
    const res = await fetch(`${base}/api/runs`, {
      method: 'POST',
      body: init.body,
      headers: { ...GOOD, ...('headers' in init ? init.headers : {}) },
    });
    expect(res.status).toBe(expected);
    expect(await res.json()).toMatchObject({ status: expected, error: expect.any(String) });
  });

  it('serves the runs page and a run page with escaped section texts', async () => {
    const page = await fetch(`${base}/`, { headers: GOOD });
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    const text = await page.text();
    expect(text).toContain('<table id="runs">');
    expect(text).toContain('<svg id="runs-chart"');
    expect(text).toContain(`href="/runs/${seeded.changedRunId}"`);
    expect(text).toContain('upstream answered 503 &lt;Service Unavailable&gt;');

    const run = await (await fetch(`${base}/runs/${seeded.changedRunId}`, { headers: GOOD })).text();
    expect(run).toContain(DOC_ID);
    expect(run).toContain('Husleieloven – husll.');
    expect(run).toContain('<details class="section-change" data-section-key="§1-1">');
    expect(run).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(run).not.toContain('<script>');
    expect(run).toContain('malformed document: unexpected end');
    const missing = await fetch(`${base}/runs/424242`, { headers: GOOD });
    expect(missing.status).toBe(404);
  });

  it('/metrics exposes queue depths, job counters, parse durations and downloaded bytes', async () => {
    metrics.parseHooks.onDuration(0.042, 'parsed');
    const res = await fetch(`${base}/metrics`, { headers: GOOD });
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/^lovsync_queue_jobs\{queue="sync",state="waiting"\} \d+$/m);
    expect(text).toMatch(/^lovsync_queue_jobs\{queue="parse",state="active"\} 0$/m);
    expect(text).toMatch(/^lovsync_parse_duration_seconds_count\{outcome="parsed"\} 1$/m);
    expect(text).toMatch(/^lovsync_downloaded_bytes_total 10900000$/m);
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);
  });

  it('Bull Board is read-only unless DASHBOARD_ALLOW_MUTATIONS=true', async () => {
    await rt.queues.parse.add('parse', {} as never, { jobId: 'read-only-probe' });
    for (const [method, path] of [
      ['PUT', '/admin/queues/api/queues/parse/pause'],
      ['PUT', '/admin/queues/api/queues/parse/clean/waiting'],
      ['PUT', '/admin/queues/api/queues/parse/empty'],
      ['PUT', '/admin/queues/api/queues/parse/retry/failed'],
      ['POST', '/admin/queues/api/queues/parse/add'],
    ] as const) {
      const res = await fetch(`${base}${path}`, { method, headers: GOOD });
      expect(res.status, `${method} ${path}`).toBe(405);
    }
    expect(await rt.queues.parse.isPaused()).toBe(false);
    expect(await rt.queues.parse.getJob('read-only-probe')).toBeDefined();
    const overview = await getJson(`${base}/admin/queues/api/queues`);
    expect(overview.status).toBe(200);
    const queues = overview.body.queues as { name: string; readOnlyMode: boolean }[];
    expect(queues.map((q) => [q.name, q.readOnlyMode]).sort()).toEqual([
      ['deliver', true],
      ['diff', true],
      ['parse', true],
      ['sync', true],
    ]);
    await rt.queues.parse.remove('read-only-probe');
  });

  it('/readyz answers 503 once shutdown has begun', async () => {
    shuttingDown = true;
    try {
      const { status, body } = await getJson(`${base}/readyz`, {});
      expect(status).toBe(503);
      expect(body).toMatchObject({ ready: false, shuttingDown: true });
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
    } finally {
      shuttingDown = false;
    }
  });
});

describe('without credentials', () => {
  let rt: Runtime;
  let http: Started;
  let lines: LogLine[];

  beforeAll(async () => {
    const captured = captureLogger();
    lines = captured.lines;
    rt = createRuntime(env.config(), { log: captured.log, poolSize: 2 });
    http = await startHttpServer(rt, {
      dashboard: true,
      metrics: createMetrics(rt),
      isShuttingDown: () => false,
      port: 0,
      host: '0.0.0.0',
    });
  });

  afterAll(async () => {
    await http?.close();
    await rt?.close();
  });

  it('binds 127.0.0.1 only, even when asked for 0.0.0.0, and says so', () => {
    expect(http.host).toBe('127.0.0.1');
    expect(http.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const warning = lines.find((l) => l.level === 'warn' && /127\.0\.0\.1 only/.test(l.msg ?? ''));
    expect(warning?.msg).toMatch(/DASHBOARD_USER\/DASHBOARD_PASSWORD are not set/);
  });

  it('serves the API on loopback without asking for credentials', async () => {
    const { status, body } = await getJson(`${http.url}/api/runs?limit=1`, {});
    expect(status).toBe(200);
    expect((body.items as { id: number }[])[0]?.id).toBe(seeded.runningRunId);
  });

  it('the listening socket really is the loopback one', async () => {
    // server.address() of the underlying socket, seen from a fresh connection's remote end.
    const { createConnection } = await import('node:net');
    const socket = createConnection({ host: '127.0.0.1', port: http.port });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    expect(socket.remoteAddress).toBe('127.0.0.1');
    socket.destroy();
  });
});

describe('with DASHBOARD_ALLOW_MUTATIONS=true', () => {
  it('Bull Board may pause a queue', async () => {
    const rt = createRuntime(
      env.config({ DASHBOARD_USER: USER, DASHBOARD_PASSWORD: PASSWORD, DASHBOARD_ALLOW_MUTATIONS: 'true' }),
      { log: env.log, poolSize: 2 },
    );
    const http = await startHttpServer(rt, {
      dashboard: true,
      metrics: createMetrics(rt),
      isShuttingDown: () => false,
      port: 0,
      host: '127.0.0.1',
    });
    try {
      const res = await fetch(`${http.url}/admin/queues/api/queues/diff/pause`, {
        method: 'PUT',
        headers: GOOD,
      });
      expect(res.status).toBeLessThan(300);
      expect(await rt.queues.diff.isPaused()).toBe(true);
      await rt.queues.diff.resume();
    } finally {
      await http.close();
      await rt.close();
    }
  });
});

describe('health-only server (differ/parser roles)', () => {
  it('has health and metrics but no dashboard routes', async () => {
    const rt = createRuntime(env.config({ DASHBOARD_USER: USER, DASHBOARD_PASSWORD: PASSWORD }), {
      log: env.log,
      poolSize: 2,
    });
    const http = await startHttpServer(rt, {
      dashboard: false,
      metrics: createMetrics(rt),
      isShuttingDown: () => false,
      port: 0,
      host: '127.0.0.1',
    });
    try {
      expect((await fetch(`${http.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${http.url}/readyz`)).status).toBe(200);
      expect((await fetch(`${http.url}/metrics`, { headers: GOOD })).status).toBe(200);
      expect((await fetch(`${http.url}/api/runs`, { headers: GOOD })).status).toBe(404);
      expect((await fetch(`${http.url}/admin/queues`, { headers: GOOD })).status).toBe(404);
    } finally {
      await http.close();
      await rt.close();
    }
  });
});

describe('while Redis is unreachable', () => {
  it('fails readiness and POST /api/runs fast instead of hanging; health and reads still answer', async () => {
    const rt = createRuntime(env.config({ REDIS_URL: 'redis://127.0.0.1:1' }), { log: env.log, poolSize: 2 });
    for (const q of [rt.queues.sync, rt.queues.diff, rt.queues.parse]) q.on('error', () => undefined);
    const http = await startHttpServer(rt, {
      dashboard: true,
      metrics: createMetrics(rt),
      isShuttingDown: () => false,
      port: 0,
    });
    try {
      expect((await fetch(`${http.url}/healthz`)).status).toBe(200);
      let started = Date.now();
      const ready = await getJson(`${http.url}/readyz`, {});
      expect(ready.status).toBe(503);
      expect(ready.body).toMatchObject({ checks: { postgres: { ok: true }, redis: { ok: false } } });
      expect(Date.now() - started).toBeLessThan(6_000);

      started = Date.now();
      const post = await fetch(`${http.url}/api/runs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      expect(post.status).toBe(503);
      expect(Date.now() - started).toBeLessThan(10_000);

      started = Date.now();
      const metrics = await fetch(`${http.url}/metrics`);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toContain('lovsync_downloaded_bytes_total 10900000');
      expect(Date.now() - started).toBeLessThan(6_000);

      expect((await fetch(`${http.url}/api/runs`)).status).toBe(200);
    } finally {
      await http.close();
      await rt.close();
    }
  });
});

describe('close()', () => {
  it('stops accepting connections and resolves even with a keep-alive client attached', async () => {
    const rt = createRuntime(env.config(), { log: env.log, poolSize: 2 });
    const http = await startHttpServer(rt, {
      dashboard: true,
      metrics: createMetrics(rt),
      isShuttingDown: () => false,
      port: 0,
    });
    const { Agent, request } = await import('node:http');
    const agent = new Agent({ keepAlive: true });
    await new Promise<void>((resolve, reject) =>
      request(`${http.url}/healthz`, { agent }, (res) => {
        res.resume();
        res.on('end', resolve);
      })
        .on('error', reject)
        .end(),
    );
    const started = Date.now();
    await http.close();
    expect(Date.now() - started).toBeLessThan(5_000);
    await expect(fetch(`${http.url}/healthz`)).rejects.toThrow();
    agent.destroy();
    await rt.close();
  });
});
