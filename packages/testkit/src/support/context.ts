import { createRuntime, type Runtime } from '@lovsync/shared/runtime';
import type { TestEnv } from './harness.ts';

/** A ServiceContext on the test's own database and Redis prefix (real Postgres, real Redis). */
export function createTestContext(env: TestEnv, overrides: Record<string, string> = {}): Runtime {
  return createRuntime(env.config(overrides), { log: env.log, service: 'test' });
}

/** Rows of a query, for assertions. */
export async function rows<T = Record<string, unknown>>(
  env: TestEnv,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  return (await env.database.pool.query(sql, params)).rows as T[];
}

/**
 * A digest of the tables users query (timestamps and serial ids excluded), to compare end states.
 * The history tables' observed times are the archives' published lastModified: keep them when both
 * states come from the same archives (a SIGKILLed run against an uninterrupted one); drop them with
 * `observedTimes: false` when each state was synced from archives rebuilt (and so re-dated) for it.
 */
export async function contentDigest(
  env: TestEnv,
  opts: { observedTimes?: boolean } = {},
): Promise<Record<string, string>> {
  const observed = opts.observedTimes === false ? '' : 'observed_from, observed_to, ';
  const q: Record<string, string> = {
    files: 'SELECT dataset, path, hash, size, status FROM files ORDER BY 1, 2',
    file_changes:
      'SELECT run_id, dataset, path, change, old_hash, new_hash, old_size, new_size, parse_status, parse_error FROM file_changes ORDER BY 1, 2, 3',
    documents:
      'SELECT document_id, refid, dataset, path, source_hash, title, status, last_run_id, date_in_force, last_changed_by FROM documents ORDER BY 1',
    sections:
      'SELECT document_id, section_key, parent_key, kind, number, title, heading_path, text, text_hash, ord FROM sections ORDER BY 1, 2',
    chunks: 'SELECT chunk_id, document_id, section_key, ord, text, token_count FROM chunks ORDER BY 1',
    section_changes:
      'SELECT run_id, document_id, section_key, change, number, heading_path, old_text, new_text FROM section_changes ORDER BY 1, 2, 3',
    document_changes:
      'SELECT run_id, document_id, change, kind, dataset, path FROM document_changes ORDER BY 1, 2',
    section_versions: `SELECT document_id, section_key, valid_from_run, valid_to_run, ${observed}origin, text_hash, number, title, in_force, amended_by, change_note, heading_path, ord, text FROM section_versions ORDER BY 1, 2, 3`,
    document_versions: `SELECT document_id, valid_from_run, valid_to_run, ${observed}origin, refid, title, last_change_in_force, last_changed_by FROM document_versions ORDER BY 1, 2`,
    cross_references:
      'SELECT document_id, section_key, kind, target_refid, target_part, raw FROM cross_references ORDER BY 1, 2, 3, 4, 5, 6',
  };
  const out: Record<string, string> = {};
  for (const [table, sql] of Object.entries(q)) {
    const r = await env.database.pool.query(
      `SELECT md5(string_agg(t::text, '|')) AS d, count(*) AS n FROM (${sql}) t`,
    );
    out[table] = `${r.rows[0].n}:${r.rows[0].d}`;
  }
  return out;
}
