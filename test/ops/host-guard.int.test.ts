/**
 * DNS rebinding and cross-site requests (issue 17 point 6), over real sockets with real Postgres
 * and Redis. Bad inputs tried: a foreign Host header (rebinding), a foreign Origin on POST, a
 * `null` Origin, `Sec-Fetch-Site: cross-site`, each with and without credentials; the sync queue
 * must stay empty after every refused POST.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics } from '@lovsync/app/http/metrics';
import { startHttpServer } from '@lovsync/app/http/server';
import { createRuntime, type Runtime } from '@lovsync/shared/runtime';
import { createTestEnv, type TestEnv } from '@lovsync/testkit/support/harness';

type Started = Awaited<ReturnType<typeof startHttpServer>>;
const USER = 'admin';
const PASSWORD = 'rebinding is not a feature';
const AUTH = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;

/** node:http, because fetch does not let a caller set Host. */
function send(
  port: number,
  p: { method?: string; path: string; headers: Record<string, string>; body?: string },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method: p.method ?? 'GET', path: p.path, headers: p.headers },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(p.body);
  });
}

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv('host_guard');
});
afterAll(async () => {
  await env?.teardown();
});

async function start(overrides: Record<string, string>): Promise<{ rt: Runtime; http: Started }> {
  const rt = createRuntime(env.config(overrides), { log: env.log, poolSize: 2 });
  const http = await startHttpServer(rt, {
    dashboard: true,
    metrics: createMetrics(rt),
    isShuttingDown: () => false,
    port: 0,
  });
  return { rt, http };
}

describe('without credentials (loopback only)', () => {
  let rt: Runtime;
  let http: Started;
  beforeAll(async () => {
    ({ rt, http } = await start({}));
    await rt.queues.sync.obliterate({ force: true });
  });
  afterAll(async () => {
    await http?.close();
    await rt?.close();
  });

  it.each(['localhost', `localhost:${0}`, '127.0.0.1', '[::1]:3000', 'app.localhost'])(
    'serves Host %s',
    async (host) => {
      const res = await send(http.port, { path: '/api/runs?limit=1', headers: { host } });
      expect(res.status).toBe(200);
    },
  );

  it.each([
    'rebind.attacker.example',
    'rebind.attacker.example:3000',
    '127.0.0.1.attacker.example',
    'localhost.attacker.example',
  ])('refuses a rebinding Host %j with 421, for reads and for POST', async (host) => {
    const read = await send(http.port, { path: '/api/runs', headers: { host } });
    expect(read.status).toBe(421);
    expect(read.body).toMatch(/only localhost, 127\.0\.0\.1 and \[::1\]/);
    const post = await send(http.port, {
      method: 'POST',
      path: '/api/runs',
      headers: { host, 'content-type': 'application/json' },
      body: JSON.stringify({ force: true }),
    });
    expect(post.status).toBe(421);
    expect(await rt.queues.sync.count()).toBe(0);
  });

  it.each([
    ['a foreign Origin', { origin: 'http://rebind.attacker.example' }],
    ['Origin: null', { origin: 'null' }],
    ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site' }],
  ])('refuses a cross-origin POST (%s) with 403 and enqueues nothing', async (_name, extra) => {
    const port = http.port;
    const res = await send(port, {
      method: 'POST',
      path: '/api/runs',
      headers: { host: `127.0.0.1:${port}`, 'content-type': 'application/json', ...extra },
      body: '{}',
    });
    expect(res.status).toBe(403);
    expect(await rt.queues.sync.count()).toBe(0);
  });

  it('accepts a same-origin POST (the dashboard itself) and one without Origin (curl)', async () => {
    const port = http.port;
    const same = await send(port, {
      method: 'POST',
      path: '/api/runs',
      headers: {
        host: `127.0.0.1:${port}`,
        origin: `http://127.0.0.1:${port}`,
        'content-type': 'application/json',
      },
      body: '{}',
    });
    expect(same.status).toBe(202);
    const curl = await send(port, {
      method: 'POST',
      path: '/api/runs',
      headers: { host: `localhost:${port}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(curl.status).toBe(202);
  });
});

describe('with credentials', () => {
  let rt: Runtime;
  let http: Started;
  beforeAll(async () => {
    ({ rt, http } = await start({ DASHBOARD_USER: USER, DASHBOARD_PASSWORD: PASSWORD }));
    await rt.queues.sync.obliterate({ force: true });
  });
  afterAll(async () => {
    await http?.close();
    await rt?.close();
  });

  it('serves any Host name (it is exposed on purpose) but still refuses cross-origin POSTs with valid credentials', async () => {
    const read = await send(http.port, {
      path: '/api/runs',
      headers: { host: 'lovsync.example.no', authorization: AUTH },
    });
    expect(read.status).toBe(200);
    const post = await send(http.port, {
      method: 'POST',
      path: '/api/runs',
      headers: {
        host: 'lovsync.example.no',
        origin: 'https://attacker.example',
        authorization: AUTH,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ force: true }),
    });
    expect(post.status).toBe(403);
    expect(await rt.queues.sync.count()).toBe(0);
    const own = await send(http.port, {
      method: 'POST',
      path: '/api/runs',
      headers: {
        host: 'lovsync.example.no',
        origin: 'https://lovsync.example.no',
        authorization: AUTH,
        'content-type': 'application/json',
      },
      body: '{}',
    });
    expect(own.status).toBe(202);
  });
});
