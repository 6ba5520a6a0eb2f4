/**
 * History over HTTP (issue 13 points 4 and 5) on the three real husleieloven runs: the JSON API
 * (validated, paginated, behind Basic auth) and, in headless chromium (playwright-core), the
 * document page with its run/date picker and the section history page with a word-level diff.
 * Run 3 also puts markup-looking text into §9-3: it must render inert. Screenshots go to
 * test/artifacts/ (gitignored).
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics } from '@lovsync/app/http/metrics';
import { startHttpServer } from '@lovsync/app/http/server';
import { createRuntime, type Runtime } from '@lovsync/shared/runtime';
import { startEmulator, type Emulator } from '@lovsync/testkit/emulator/server';
import { createTestEnv, type TestEnv } from '@lovsync/testkit/support/harness';
import { ID, publishThreeRuns, T2, T3 } from './three-runs.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(import.meta.dirname, '..', 'artifacts');
const USER = 'viewer';
const PASSWORD = 'a long and boring passphrase';
/** In the XML as escaped text: the parser stores it as the literal characters. */
const HOSTILE =
  '&lt;img src=x onerror="document.title=\'pwned\'"&gt;&lt;/pre&gt;&lt;script&gt;1&lt;/script&gt;';

let env: TestEnv;
let emu: Emulator;
let rt: Runtime;
let http: Awaited<ReturnType<typeof startHttpServer>>;
const auth = { Authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}` };

async function api(path: string, headers: Record<string, string> = auth) {
  const res = await fetch(http.url + path, { headers });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  env = await createTestEnv('history_http');
  const archives = join(env.tmp, 'archives');
  await mkdir(archives, { recursive: true });
  emu = await startEmulator({ dir: archives });
  rt = createRuntime(
    env.config({ LOVDATA_API_URL: emu.url, DASHBOARD_USER: USER, DASHBOARD_PASSWORD: PASSWORD }),
    { log: env.log, poolSize: 4 },
  );
  await publishThreeRuns(rt, emu, archives, (x) => x.replace(T3, `${T3} ${HOSTILE}`));
  http = await startHttpServer(rt, {
    dashboard: true,
    metrics: createMetrics(rt),
    isShuttingDown: () => false,
    port: 0,
    host: '127.0.0.1',
  });
}, 240_000);
afterAll(async () => {
  await http?.close();
  await rt?.close();
  await emu?.close();
  await env?.teardown();
});

describe('history API', () => {
  it('GET /api/documents/:id?run= and ?as_of= give the document then; without them the current document as before', async () => {
    const enc = encodeURIComponent(ID);
    const r2 = await api(`/api/documents/${enc}?run=2`);
    expect(r2.status).toBe(200);
    const s93 = (r2.body.sections as { sectionKey: string; text: string }[]).find(
      (s) => s.sectionKey === '§9-3',
    )!;
    expect(s93.text).toContain(T2);
    // plain segments, refid, a date between v2 and v3
    const asOf = await api(`/api/documents/lov/1999-03-26-17?as_of=2025-04-01&limit=2&offset=1`);
    expect(asOf.status).toBe(200);
    expect(asOf.body).toMatchObject({ limit: 2, offset: 1, document: { validFromRun: 2 } });
    expect((asOf.body.sections as unknown[]).length).toBe(2);
    expect(asOf.body.total as number).toBeGreaterThan(90);
    const current = await api(`/api/documents/${enc}`);
    expect(current.status).toBe(200);
    expect(current.body).toMatchObject({ documentId: ID });
    expect(current.body.sections).toBeUndefined();
  });

  it('GET /api/documents/:id/sections/:key/history lists the three versions', async () => {
    const h = await api(
      `/api/documents/${encodeURIComponent(ID)}/sections/${encodeURIComponent('§ 9-3')}/history`,
    );
    expect(h.status).toBe(200);
    expect(h.body).toMatchObject({ documentId: ID, sectionKey: '§9-3', total: 3 });
    expect((h.body.versions as { amendedBy: string | null }[]).map((v) => v.amendedBy)).toEqual([
      null,
      'lov/2025-06-20-93',
      'lov/2025-12-12-120',
    ]);
  });

  it('GET /api/diff lists the edited sections between two runs, paginated', async () => {
    const d = await api('/api/diff?from=1&to=3');
    expect(d.status).toBe(200);
    expect((d.body.sections as { sectionKey: string }[]).map((s) => s.sectionKey)).toEqual(['§1-2', '§9-3']);
    const p = await api('/api/diff?document=husleieloven&from=1&to=3&limit=1&offset=1');
    expect(p.body).toMatchObject({ total: 2, limit: 1, offset: 1, documentId: ID });
    expect((p.body.sections as { sectionKey: string }[]).map((s) => s.sectionKey)).toEqual(['§9-3']);
  });

  it('bad input is a 400 with a message, unknown things a 404, no credentials a 401', async () => {
    const cases: [string, number, RegExp][] = [
      ['/api/diff?from=3&to=1', 400, /empty or reversed/],
      ['/api/diff?from=yesterday&to=1', 400, /from must be a run id/],
      ['/api/diff?from=1', 400, /invalid query: to/],
      ['/api/diff?from=1&to=3&limit=0', 400, /invalid query: limit/],
      ['/api/diff?from=1&to=3&bogus=1', 400, /invalid query/],
      [`/api/documents/${encodeURIComponent(ID)}?as_of=2025-02-30`, 400, /as_of must be a date/],
      [`/api/documents/${encodeURIComponent(ID)}?run=1&as_of=2025-02-01`, 400, /either as_of or run/],
      [`/api/documents/${encodeURIComponent(ID)}?run=77`, 404, /run 77 not found/],
      ['/api/documents/lov%2F1800-01-01-1?run=1', 404, /not found/],
      [`/api/documents/${encodeURIComponent(ID)}/sections/%C2%A799/history`, 404, /section "§99" not found/],
    ];
    for (const [path, status, message] of cases) {
      const r = await api(path);
      expect({ path, status: r.status }).toEqual({ path, status });
      expect(r.body.error).toMatch(message);
    }
    expect((await api('/api/diff?from=1&to=3', {})).status).toBe(401);
  });
});

describe.skipIf(!existsSync(CHROMIUM))(`history pages in chromium (needs ${CHROMIUM})`, () => {
  let browser: Browser;
  let context: BrowserContext;
  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
      ],
    });
    context = await browser.newContext({
      httpCredentials: { username: USER, password: PASSWORD },
      viewport: { width: 1300, height: 900 },
    });
  });
  afterAll(async () => {
    await context?.close();
    await browser?.close();
  });

  it('the document page shows the sections in order and the picker switches runs', async () => {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${http.url}/documents/husleieloven`);
    const keys = await page
      .locator('#sections .sec')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-key')));
    expect(keys.indexOf('§1-2')).toBe(keys.indexOf('§1-1') + 1);
    const s93 = page.locator('.sec[data-key="§9-3"] pre');
    expect(await s93.textContent()).toContain(T3);
    // hostile text is text: no img, no script ran, the page title is ours
    expect(await s93.textContent()).toContain('<img src=x onerror=');
    expect(await page.locator('#sections img, #sections script').count()).toBe(0);
    expect(await page.title()).toContain('husleieavtaler');
    await page.screenshot({ path: join(ARTIFACTS, 'history-document.png'), fullPage: false });
    await page.selectOption('select[name="run"]', '2');
    await Promise.all([page.waitForURL(/run=2/), page.click('form.picker button')]);
    expect(await page.locator('.sec[data-key="§9-3"] pre').textContent()).toContain(T2);
    await page.fill('input[name="as_of"]', '2025-02-01');
    await page.selectOption('select[name="run"]', '');
    await Promise.all([page.waitForURL(/as_of=2025-02-01/), page.click('form.picker button')]);
    expect(await page.locator('.sec[data-key="§9-3"] pre').textContent()).toContain('enn tre år');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('the section history page shows each version with a word-level diff against the previous one', async () => {
    const page = await context.newPage();
    await page.goto(`${http.url}/documents/${encodeURIComponent(ID)}`);
    await Promise.all([page.waitForURL(/history$/), page.click('.sec[data-key="§9-3"] a')]);
    const versions = page.locator('#versions .ver');
    expect(await versions.count()).toBe(3);
    expect(await versions.nth(1).locator('del').allTextContents()).toEqual(['tre']);
    expect(await versions.nth(1).locator('ins').allTextContents()).toEqual(['fire']);
    expect((await versions.nth(2).locator('ins').allTextContents()).join(' ')).toContain('<img');
    expect(await page.locator('#versions img, #versions script').count()).toBe(0);
    expect(await versions.nth(2).textContent()).toContain('lov/2025-12-12-120');
    await page.screenshot({ path: join(ARTIFACTS, 'history-section.png'), fullPage: true });
    const bad = await page.goto(`${http.url}/documents/${encodeURIComponent(ID)}?as_of=2025-99-01`);
    expect(bad!.status()).toBe(400);
    expect(await page.locator('.err').textContent()).toContain('as_of must be a date');
    await page.close();
  });
});
