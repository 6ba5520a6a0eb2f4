/**
 * Everything the dashboard renders from the data is escaped (issue 16 point 17). Hostile values
 * tried, each carrying a <script> and an <img onerror>: a document title and short title, an archive
 * file name, a dataset name, a parse error, a run error, a section heading path, number and key,
 * section texts, and a document id (also used inside an href).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics } from '@lovsync/app/http/metrics';
import { startHttpServer } from '@lovsync/app/http/server';
import { createRuntime, type Runtime } from '@lovsync/shared/runtime';
import { createTestEnv, type TestEnv } from '@lovsync/testkit/support/harness';

const X = (tag: string) => `"'><script>alert('${tag}')</script><img src=x onerror=alert('${tag}')>`;
const DOC = `NL/lov/2001-01-01-1${X('docid')}`;

let env: TestEnv;
let rt: Runtime;
let http: Awaited<ReturnType<typeof startHttpServer>>;
let runId: number;

beforeAll(async () => {
  env = await createTestEnv('escaping');
  const pool = env.database.pool;
  runId = (
    await pool.query<{ id: number }>(
      `INSERT INTO sync_runs (trigger, status, started_at, sync_finished_at, finished_at, files_modified, parse_total, parse_succeeded, parse_failed, error)
       VALUES ('manual', 'partial', now(), now(), now(), 2, 2, 1, 1, $1) RETURNING id`,
      [`run error ${X('runerror')}`],
    )
  ).rows[0]!.id;
  const dataset = `gjeldende${X('dataset')}.tar.bz2`;
  const path = `nl/${X('path')}.xml`;
  await pool.query(
    `INSERT INTO run_datasets (run_id, dataset, status, file_count, error) VALUES ($1, $2, 'failed', 2, $3)`,
    [runId, dataset, `dataset error ${X('dserror')}`],
  );
  await pool.query(
    `INSERT INTO file_changes (run_id, dataset, path, change, old_hash, new_hash, old_size, new_size, parse_status, parse_error, parsed_at)
     VALUES ($1, $2, $3, 'modified', 'aa', 'bb', 1, 2, 'failed', $4, now()),
            ($1, $2, $5, 'modified', 'cc', 'dd', 1, 2, 'succeeded', NULL, now())`,
    [runId, dataset, path, `malformed ${X('parseerror')}`, `nl/ok${X('path2')}.xml`],
  );
  await pool.query(
    `INSERT INTO documents (document_id, dokid, refid, dataset, path, source_hash, title, short_title, ministries, date_in_force,
       changes_documents, based_on, legal_areas, status, last_run_id)
     VALUES ($1, $1, 'lov/2001-01-01-1', $2, $3, 'dd', $4, $5, '{}', '{}', '{}', '{}', '{}', 'active', $6)`,
    [DOC, dataset, `nl/ok${X('path2')}.xml`, `Lov ${X('title')}`, `Kortlov ${X('short')}`, runId],
  );
  await pool.query(
    `INSERT INTO document_changes (run_id, document_id, change, kind, dataset, path, sections_added, sections_modified, sections_removed)
     VALUES ($1, $2, 'modified', 'amendment', $3, $4, 0, 1, 0)`,
    [runId, DOC, dataset, `nl/ok${X('path2')}.xml`],
  );
  await pool.query(
    `INSERT INTO section_changes (run_id, document_id, section_key, change, number, heading_path, old_text, new_text)
     VALUES ($1, $2, $3, 'modified', $4, $5, $6, $7)`,
    [
      runId,
      DOC,
      `§1${X('key')}`,
      `§ 1${X('number')}`,
      `Kapittel ${X('heading')}`,
      `old ${X('old')}`,
      `new ${X('new')}`,
    ],
  );
  rt = createRuntime(env.config(), { log: env.log, poolSize: 2 });
  http = await startHttpServer(rt, {
    dashboard: true,
    metrics: createMetrics(rt),
    isShuttingDown: () => false,
    port: 0,
  });
});

afterAll(async () => {
  await http?.close();
  await rt?.close();
  await env?.teardown();
});

/** Every tag of the page; a hostile value that escaped would show up as a <script> or <img onerror>. */
function assertInert(html: string) {
  expect(html).not.toMatch(/<script[\s>]/i);
  expect(html).not.toMatch(/<img[^>]*onerror/i);
  expect(html).not.toContain(`"'>`);
}

describe('dashboard escaping', () => {
  it('the runs page', async () => {
    const res = await fetch(`${http.url}/`);
    expect(res.status).toBe(200);
    const html = await res.text();
    assertInert(html);
    expect(html).toContain('run error &quot;&#39;&gt;&lt;script&gt;alert(&#39;runerror&#39;)&lt;/script&gt;');
  });

  it('the run page: titles, file names, dataset names, errors, section headings and texts', async () => {
    const res = await fetch(`${http.url}/runs/${runId}`);
    expect(res.status).toBe(200);
    const html = await res.text();
    assertInert(html);
    // Each hostile value is on the page, as text.
    for (const tag of [
      'path',
      'dataset',
      'parseerror',
      'short',
      'docid',
      'heading',
      'old',
      'new',
      'dserror',
    ]) {
      expect(html, tag).toContain(`&lt;script&gt;alert(&#39;${tag}&#39;)&lt;/script&gt;`);
    }
  });
});
