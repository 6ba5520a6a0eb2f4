/**
 * Seeds a small but realistic history with plain SQL: three finished runs (one with file,
 * document and section changes), a running run, and the husleieloven document with sections.
 */
import type pg from 'pg';

export const DOC_ID = 'NL/lov/1999-03-26-17';
export const DOC_ID_2 = 'NL/lov/2005-06-17-101';

export interface Seeded {
  firstRunId: number;
  changedRunId: number;
  failedRunId: number;
  runningRunId: number;
}

export async function seedHistory(pool: pg.Pool): Promise<Seeded> {
  const run = async (cols: Record<string, unknown>) => {
    const keys = Object.keys(cols);
    const res = await pool.query<{ id: number }>(
      `INSERT INTO sync_runs (${keys.join(', ')}) VALUES (${keys.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING id`,
      Object.values(cols),
    );
    return res.rows[0]!.id;
  };
  const firstRunId = await run({
    trigger: 'manual',
    status: 'succeeded',
    started_at: '2025-10-27T01:00:00Z',
    sync_finished_at: '2025-10-27T01:01:00Z',
    finished_at: '2025-10-27T01:03:10Z',
    datasets_checked: 1,
    datasets_changed: 1,
    files_added: 812,
    parse_total: 812,
    parse_succeeded: 812,
    bytes_downloaded: 5_400_000,
  });
  const changedRunId = await run({
    trigger: 'schedule',
    status: 'partial',
    started_at: '2025-10-28T01:00:00Z',
    sync_finished_at: '2025-10-28T01:00:40Z',
    finished_at: '2025-10-28T01:01:05Z',
    datasets_checked: 2,
    datasets_changed: 1,
    files_added: 1,
    files_modified: 2,
    files_removed: 1,
    files_unchanged: 809,
    parse_total: 4,
    parse_succeeded: 3,
    parse_failed: 1,
    bytes_downloaded: 5_500_000,
  });
  const failedRunId = await run({
    trigger: 'poll',
    status: 'failed',
    started_at: '2025-10-28T02:00:00Z',
    sync_finished_at: '2025-10-28T02:00:02Z',
    finished_at: '2025-10-28T02:00:02Z',
    error: 'upstream answered 503 <Service Unavailable>',
  });
  const runningRunId = await run({ trigger: 'api', status: 'running', started_at: '2025-10-29T01:00:00Z' });

  await pool.query(
    `INSERT INTO run_datasets (run_id, dataset, status, last_modified, archive_bytes, file_count, bytes_downloaded)
     VALUES ($1, 'gjeldende-lover.tar.bz2', 'diffed', '2025-10-28T02:31:00Z', 5500000, 813, 5500000),
            ($1, 'gjeldende-sentrale-forskrifter.tar.bz2', 'unchanged', '2025-10-20T02:31:00Z', 9000000, 900, 0)`,
    [changedRunId],
  );
  await pool.query(
    `INSERT INTO file_changes (run_id, dataset, path, change, old_hash, new_hash, old_size, new_size, parse_status, parse_error, parsed_at)
     VALUES ($1, 'gjeldende-lover.tar.bz2', 'nl/nl-19990326-017.xml', 'modified', 'aa11', 'bb22', 100, 120, 'succeeded', NULL, now()),
            ($1, 'gjeldende-lover.tar.bz2', 'nl/nl-20050617-101.xml', 'added', NULL, 'cc33', NULL, 300, 'succeeded', NULL, now()),
            ($1, 'gjeldende-lover.tar.bz2', 'nl/nl-19170601-001.xml', 'removed', 'dd44', NULL, 80, NULL, 'succeeded', NULL, now()),
            ($1, 'gjeldende-lover.tar.bz2', 'nl/nl-19610505-000.xml', 'modified', 'ee55', 'ff66', 90, 91, 'failed', 'malformed document: unexpected end', now())`,
    [changedRunId],
  );
  await pool.query(
    `INSERT INTO documents (document_id, dokid, refid, dataset, path, source_hash, title, short_title, ministries, date_in_force,
       changes_documents, based_on, legal_areas, status, last_run_id, date_in_force_raw, last_change_in_force, last_changed_by)
     VALUES ($1, $1, 'lov/1999-03-26-17', 'gjeldende-lover.tar.bz2', 'nl/nl-19990326-017.xml', 'bb22',
             'Lov om husleieavtaler (husleieloven)', 'Husleieloven – husll.', '{"Kommunal- og distriktsdepartementet"}',
             '{1999-09-01}', '{}', '{}', '{"Bolig"}', 'active', $2, '1999-09-01', '2025-07-01', 'LOV-2025-06-20-93'),
            ($3, $3, 'lov/2005-06-17-101', 'gjeldende-lover.tar.bz2', 'nl/nl-20050617-101.xml', 'cc33',
             'Lov om eierseksjoner (eierseksjonsloven)', NULL, '{}', '{}', '{}', '{}', '{}', 'active', $2, NULL, NULL, NULL)`,
    [DOC_ID, changedRunId, DOC_ID_2],
  );
  await pool.query(
    `INSERT INTO sections (document_id, section_key, parent_key, kind, number, title, heading_path, text, text_hash, ord)
     VALUES ($1, 'kapittel1', NULL, 'chapter', '1', 'Innleiande føresegner', 'Kapittel 1. Innleiande føresegner', '', 'h0', 0),
            ($1, '§1-1', 'kapittel1', 'article', '§ 1-1', 'Verkeområdet for lova', 'Kapittel 1 > § 1-1', 'Lova gjeld avtaler om bruksrett til husrom mot vederlag.', 'h1', 1),
            ($1, '§1-2', 'kapittel1', 'article', '§ 1-2', 'Fråvikingsforbod', 'Kapittel 1 > § 1-2', 'Lova kan ikkje fråvikast til skade for leigaren.', 'h2', 2)`,
    [DOC_ID],
  );
  await pool.query(
    `INSERT INTO document_changes (run_id, document_id, change, kind, dataset, path, sections_added, sections_modified, sections_removed)
     VALUES ($1, $2, 'modified', 'amendment', 'gjeldende-lover.tar.bz2', 'nl/nl-19990326-017.xml', 1, 1, 1),
            ($1, $3, 'added', NULL, 'gjeldende-lover.tar.bz2', 'nl/nl-20050617-101.xml', 0, 0, 0)`,
    [changedRunId, DOC_ID, DOC_ID_2],
  );
  await pool.query(
    `INSERT INTO section_changes (run_id, document_id, section_key, change, number, heading_path, old_text, new_text)
     VALUES ($1, $2, '§1-1', 'modified', '§ 1-1', 'Kapittel 1 > § 1-1',
             'Lova gjeld avtaler om bruksrett til husrom <script>alert(1)</script> mot vederlag.',
             'Lova gjeld avtaler om bruksrett til husrom mot vederlag.'),
            ($1, $2, '§1-2', 'added', '§ 1-2', 'Kapittel 1 > § 1-2', NULL, 'Lova kan ikkje fråvikast til skade for leigaren.'),
            ($1, $2, '§1-3', 'removed', '§ 1-3', 'Kapittel 1 > § 1-3', 'Oppheva paragraf.', NULL)`,
    [changedRunId, DOC_ID],
  );
  return { firstRunId, changedRunId, failedRunId, runningRunId };
}
