/**
 * The dashboard in a real browser: Debian's chromium driven by playwright-core, headless, logging in
 * with HTTP Basic credentials. Sees the runs page with its chart for a finished run, a run's changes,
 * and the three queues in Bull Board. Screenshots go to test/artifacts/ (gitignored).
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics } from '@lovsync/app/http/metrics';
import { startHttpServer } from '@lovsync/app/http/server';
import { createRuntime, type Runtime } from '@lovsync/shared/runtime';
import { createTestEnv, type TestEnv } from '@lovsync/testkit/support/harness';
import { DOC_ID, seedHistory, type Seeded } from './seed.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(import.meta.dirname, '..', 'artifacts');
const USER = 'viewer';
const PASSWORD = 'a long and boring passphrase';

let env: TestEnv;
let rt: Runtime;
let http: Awaited<ReturnType<typeof startHttpServer>>;
let browser: Browser;
let context: BrowserContext;
let seeded: Seeded;

describe.skipIf(!existsSync(CHROMIUM))(
  `dashboard in chromium (needs ${CHROMIUM}: apt-get install -y chromium)`,
  () => {
    beforeAll(async () => {
      await mkdir(ARTIFACTS, { recursive: true });
      env = await createTestEnv('ops_browser');
      seeded = await seedHistory(env.database.pool);
      rt = createRuntime(env.config({ DASHBOARD_USER: USER, DASHBOARD_PASSWORD: PASSWORD }), {
        log: env.log,
        poolSize: 4,
      });
      // A job in each queue so Bull Board has something to show besides the names.
      await rt.queues.parse.add('parse', { note: 'browser test' } as never, { jobId: 'browser-test-parse' });
      http = await startHttpServer(rt, {
        dashboard: true,
        metrics: createMetrics(rt),
        isShuttingDown: () => false,
        port: 0,
        host: '127.0.0.1',
      });
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
      context = await browser.newContext({
        httpCredentials: { username: USER, password: PASSWORD },
        viewport: { width: 1400, height: 900 },
      });
    });

    afterAll(async () => {
      await context?.close();
      await browser?.close();
      await http?.close();
      await rt?.close();
      await env?.teardown();
    });

    it('without credentials the browser gets 401', async () => {
      const anonymous = await browser.newContext();
      try {
        // A page navigation answered 401 ends in net::ERR_INVALID_AUTH_CREDENTIALS in headless chromium
        // (no login prompt to show), so look at the response through the context's request API.
        const res = await anonymous.request.get(`${http.url}/`);
        expect(res.status()).toBe(401);
        expect(res.headers()['www-authenticate']).toMatch(/^Basic /);
        await expect(anonymous.newPage().then((p) => p.goto(`${http.url}/`))).rejects.toThrow(/AUTH|401/);
      } finally {
        await anonymous.close();
      }
    });

    it('shows the runs table and the chart for a finished run', async () => {
      const page = await context.newPage();
      const res = await page.goto(`${http.url}/`);
      expect(res?.status()).toBe(200);
      await expect.poll(() => page.title()).toBe('Runs · lovsync');

      const row = page.locator(`#runs tr[data-run-id="${seeded.changedRunId}"]`);
      expect(await row.locator('.badge').textContent()).toBe('partial');
      expect((await row.locator('td').allTextContents()).slice(6, 9)).toEqual(['1', '2', '1']);
      expect(await page.locator('#runs tbody tr').count()).toBe(4);

      const chart = page.locator('svg#runs-chart');
      expect(await chart.isVisible()).toBe(true);
      const box = await chart.boundingBox();
      expect(box?.width).toBeGreaterThan(300);
      // the finished run with changes has one visible segment per kind of change
      const bar = chart.locator(`a[href="/runs/${seeded.changedRunId}"]`);
      for (const kind of ['added', 'modified', 'removed']) {
        const seg = await bar.locator(`rect.bar-${kind}`).boundingBox();
        expect(seg?.height, kind).toBeGreaterThan(0);
      }
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-runs.png'), fullPage: true });

      await page.click(`#runs a[href="/runs/${seeded.changedRunId}"]`);
      await page.waitForURL(`**/runs/${seeded.changedRunId}`);
      expect(await page.locator('#documents').textContent()).toContain(DOC_ID);
      const details = page.locator('details.section-change[data-section-key="§1-1"]');
      expect(await details.getAttribute('open')).toBeNull();
      await details.locator('summary').click();
      expect(await details.locator('del').textContent()).toContain('<script>alert(1)</script>');
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-run.png'), fullPage: true });
    });

    it('shows the sync, diff and parse queues in Bull Board', async () => {
      const page = await context.newPage();
      const res = await page.goto(`${http.url}/admin/queues`);
      expect(res?.status()).toBe(200);
      for (const name of ['sync', 'diff', 'parse']) {
        await page
          .getByRole('link', { name: new RegExp(`^${name}\\b`, 'i') })
          .first()
          .waitFor({ timeout: 15_000 });
      }
      // the overview has finished loading the queue cards (it reads job counts through the API)
      await page.getByText(/^Loading/).waitFor({ state: 'detached', timeout: 15_000 });
      await page.screenshot({ path: join(ARTIFACTS, 'bull-board.png'), fullPage: true });

      await page
        .getByRole('link', { name: /^parse\b/i })
        .first()
        .click();
      await page.waitForURL('**/admin/queues/queue/parse**');
      await page.getByText(/^Loading/).waitFor({ state: 'detached', timeout: 15_000 });
      await page.screenshot({ path: join(ARTIFACTS, 'bull-board-parse.png'), fullPage: true });
      expect(await page.getByText('browser-test-parse').count()).toBeGreaterThan(0);
    });
  },
);
