/**
 * The JSON API against the database after REAL runs (no seeded rows): the fixture archives are
 * served by the emulator, synced, diffed and parsed by the services' own code; a second run edits and
 * removes files. Every API answer is compared with rows read by independent SQL, over a real socket
 * with Basic auth.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics } from '@lovsync/app/http/metrics';
import { startHttpServer, type HttpServer } from '@lovsync/app/http/server';
import type { Runtime } from '@lovsync/shared/runtime';
import {
  buildFixtureArchives,
  buildTarBz2,
  EDIT_MARKER,
  editEntries,
  fixtureEntries,
} from '@lovsync/testkit/archive/archive-builder';
import { startEmulator, type Emulator } from '@lovsync/testkit/emulator/server';
import { createTestEnv, type TestEnv } from '@lovsync/testkit/support/harness';
import { createTestContext, rows } from '@lovsync/testkit/support/context';
import { parsePending, syncAndDiff } from '@lovsync/testkit/support/cycle';

const USER = 'api';
const PASSWORD = 'api test password';
const AUTH = { authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}` };
const LOVER = 'gjeldende-lover.tar.bz2';
const REMOVED_PATH = 'nl/nl-20150619-063.xml';

let env: TestEnv;
let emu: Emulator;
let ctx: Runtime;
let http: HttpServer;
let firstRunId: number;
let secondRunId: number;

/** snake_case row -> camelCase object, as JSON would carry it (dates as ISO strings). */
function json(row: Record<string, unknown>): Record<string, unknown> {
  const camel = Object.fromEntries(
    Object.entries(row).map(([k, v]) => [k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()), v]),
  );
  return JSON.parse(JSON.stringify(camel)) as Record<string, unknown>;
}

async function get(path: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${http.url}${path}`, { headers: AUTH });
  expect(res.status, path).toBe(200);
  expect(res.headers.get('content-type'), path).toMatch(/^application\/json/);
  return (await res.json()) as Record<string, unknown>;
}

/** Every item of a paginated /changes listing, fetched in small pages. */
async function allChanges(runId: number, kind: string, pageSize = 3) {
  const items: Record<string, unknown>[] = [];
  let total = -1;
  for (let offset = 0; ; offset += pageSize) {
    const page = await get(`/api/runs/${runId}/changes?kind=${kind}&limit=${pageSize}&offset=${offset}`);
    expect(page).toMatchObject({ runId, kind, limit: pageSize, offset });
    if (total === -1) total = page.total as number;
    expect(page.total).toBe(total);
    const batch = page.items as Record<string, unknown>[];
    items.push(...batch);
    if (batch.length < pageSize) break;
  }
  expect(items).toHaveLength(total);
  return items;
}

beforeAll(async () => {
  env = await createTestEnv('ops_api_real');
  const dir = join(env.tmp, 'archives');
  await mkdir(dir, { recursive: true });
  await buildFixtureArchives(dir);
  emu = await startEmulator({ dir });
  ctx = createTestContext(env, {
    LOVDATA_API_URL: emu.url,
    DASHBOARD_USER: USER,
    DASHBOARD_PASSWORD: PASSWORD,
  });

  firstRunId = (await syncAndDiff(ctx)).runId;
  await parsePending(ctx, firstRunId);

  // Second run: half of the laws edited (one ledd each), one law gone from the archive.
  const { entries } = editEntries(
    fixtureEntries('gjeldende-lover').filter((e) => e.path !== REMOVED_PATH),
    0.5,
    3,
  );
  await buildTarBz2(entries, join(dir, LOVER));
  emu.setLastModified(LOVER, new Date(Date.now() + 3_600_000));
  secondRunId = (await syncAndDiff(ctx)).runId;
  await parsePending(ctx, secondRunId);

  http = await startHttpServer(ctx, {
    dashboard: true,
    metrics: createMetrics(ctx),
    isShuttingDown: () => false,
    port: 0,
    host: '127.0.0.1',
  });
}, 120_000);

afterAll(async () => {
  await http?.close();
  await ctx?.close();
  await emu?.close();
  await env?.teardown();
});

describe('API against the database after real runs', () => {
  it('the runs really happened: additions, then modifications, removals and section changes', async () => {
    const [first, second] = await rows<Record<string, number | string>>(
      env,
      'SELECT status, files_added, files_modified, files_removed, parse_total, parse_succeeded FROM sync_runs ORDER BY id',
    );
    expect(first).toMatchObject({ status: 'succeeded', files_modified: 0, files_removed: 0 });
    expect(first!.files_added).toBeGreaterThan(15);
    expect(second).toMatchObject({
      status: 'succeeded',
      files_added: 0,
      files_modified: 4,
      files_removed: 1,
    });
    const sectionChanges = await rows(env, 'SELECT 1 FROM section_changes WHERE run_id = $1', [secondRunId]);
    expect(sectionChanges.length).toBeGreaterThanOrEqual(4);
  });

  it('requires the credentials', async () => {
    expect((await fetch(`${http.url}/api/runs`)).status).toBe(401);
  });

  it('GET /api/runs equals sync_runs', async () => {
    const db = await rows<Record<string, unknown>>(
      env,
      `SELECT id, trigger, status, force, dataset_filter, started_at, sync_finished_at, finished_at,
         datasets_checked, datasets_changed, datasets_failed, files_added, files_modified, files_removed,
         files_unchanged, parse_total, parse_succeeded, parse_failed, entries_refused, bytes_downloaded, error
       FROM sync_runs ORDER BY id DESC`,
    );
    const body = await get('/api/runs');
    expect(body.items).toEqual(db.map(json));
    expect(body.nextBefore).toBeNull();
    expect((body.items as { bytesDownloaded: number }[]).every((r) => r.bytesDownloaded > 0)).toBe(true);
  });

  it('GET /api/runs/:id equals the run row and its run_datasets', async () => {
    for (const runId of [firstRunId, secondRunId]) {
      const run = (
        await rows<Record<string, unknown>>(
          env,
          `SELECT id, trigger, status, force, dataset_filter, started_at, sync_finished_at, finished_at,
             datasets_checked, datasets_changed, datasets_failed, files_added, files_modified, files_removed,
             files_unchanged, parse_total, parse_succeeded, parse_failed, entries_refused, bytes_downloaded, error
           FROM sync_runs WHERE id = $1`,
          [runId],
        )
      )[0]!;
      const datasets = await rows<Record<string, unknown>>(
        env,
        `SELECT dataset, status, vanished, last_modified, archive_bytes, file_count, bytes_downloaded,
           entries_refused, error FROM run_datasets WHERE run_id = $1 ORDER BY dataset`,
        [runId],
      );
      expect(datasets.length).toBe(2);
      expect(await get(`/api/runs/${runId}`)).toEqual({ ...json(run), datasets: datasets.map(json) });
    }
  });

  it('GET /api/runs/:id/changes?kind=files pages through file_changes', async () => {
    for (const runId of [firstRunId, secondRunId]) {
      const db = await rows<Record<string, unknown>>(
        env,
        `SELECT id, dataset, path, change, old_hash, new_hash, old_size, new_size, parse_status, parse_error, parsed_at
         FROM file_changes WHERE run_id = $1 ORDER BY dataset, path`,
        [runId],
      );
      expect(await allChanges(runId, 'files')).toEqual(db.map(json));
    }
    const removed = (await allChanges(secondRunId, 'files')).filter((f) => f.change === 'removed');
    expect(removed).toEqual([
      expect.objectContaining({
        dataset: LOVER,
        path: REMOVED_PATH,
        newHash: null,
        parseStatus: 'succeeded',
      }),
    ]);
  });

  it('GET /api/runs/:id/changes?kind=documents pages through document_changes', async () => {
    for (const runId of [firstRunId, secondRunId]) {
      const db = await rows<Record<string, unknown>>(
        env,
        `SELECT dc.document_id, dc.change, dc.kind, dc.dataset, dc.path, dc.sections_added, dc.sections_modified,
           dc.sections_removed, dc.created_at, d.title, d.short_title
         FROM document_changes dc LEFT JOIN documents d USING (document_id)
         WHERE dc.run_id = $1 ORDER BY dc.document_id`,
        [runId],
      );
      expect(db.length).toBeGreaterThan(0);
      expect(await allChanges(runId, 'documents')).toEqual(db.map(json));
    }
    const second = await allChanges(secondRunId, 'documents');
    expect(second.map((d) => d.change).sort()).toEqual([
      'modified',
      'modified',
      'modified',
      'modified',
      'removed',
    ]);
  });

  it('GET /api/runs/:id/changes?kind=sections pages through section_changes in document order', async () => {
    for (const runId of [firstRunId, secondRunId]) {
      const db = await rows<Record<string, unknown>>(
        env,
        `SELECT sc.document_id, sc.section_key, sc.change, sc.number, sc.heading_path, sc.old_text, sc.new_text
         FROM section_changes sc LEFT JOIN sections s USING (document_id, section_key)
         WHERE sc.run_id = $1 ORDER BY sc.document_id, s.ord NULLS LAST, sc.section_key`,
        [runId],
      );
      expect(await allChanges(runId, 'sections', 5)).toEqual(db.map(json));
    }
    const modified = (await allChanges(secondRunId, 'sections')).filter((s) => s.change === 'modified');
    expect(modified.length).toBeGreaterThanOrEqual(4);
    expect(modified.every((s) => String(s.newText).includes(EDIT_MARKER))).toBe(true);
  });

  it('GET /api/documents/:id and /sections equal documents and sections for every changed document', async () => {
    const changed = await rows<{ document_id: string; change: string }>(
      env,
      'SELECT document_id, change FROM document_changes WHERE run_id = $1 ORDER BY document_id',
      [secondRunId],
    );
    for (const { document_id: id, change } of changed) {
      const doc = (
        await rows<Record<string, unknown>>(
          env,
          `SELECT document_id, refid, dataset, path, source_hash, title, short_title, legacy_id, language, ministries,
             date_in_force_raw, date_in_force::text[] AS date_in_force, last_change_in_force::text AS last_change_in_force,
             last_changed_by, changes_documents, based_on, legal_areas, published_at, journal_number, last_updated,
             is_amendment, status, last_run_id, updated_at,
             (SELECT count(*)::int FROM sections s WHERE s.document_id = d.document_id) AS section_count
           FROM documents d WHERE document_id = $1`,
          [id],
        )
      )[0]!;
      expect(doc.status).toBe(change === 'removed' ? 'removed' : 'active');
      expect(doc.last_run_id).toBe(secondRunId);
      expect(await get(`/api/documents/${encodeURIComponent(id)}`)).toEqual(json(doc));

      const sections = await rows<Record<string, unknown>>(
        env,
        `SELECT section_key, parent_key, kind, number, title, heading_path, text, notes, repealed, text_hash, ord
         FROM sections WHERE document_id = $1 ORDER BY ord`,
        [id],
      );
      const body = await get(`/api/documents/${id}/sections?limit=5000`);
      expect(body).toMatchObject({ documentId: id, total: sections.length, offset: 0 });
      expect(body.items).toEqual(sections.map(json));
    }
  });

  it('the run page lists the changed documents of the real run', async () => {
    const res = await fetch(`${http.url}/runs/${secondRunId}`, { headers: AUTH });
    expect(res.status).toBe(200);
    const html = await res.text();
    const changed = await rows<{ document_id: string }>(
      env,
      'SELECT document_id FROM document_changes WHERE run_id = $1',
      [secondRunId],
    );
    for (const { document_id: id } of changed) expect(html).toContain(id);
  });
});
