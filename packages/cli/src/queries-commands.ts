import { rm } from 'node:fs/promises';
import { config } from '@lovsync/shared/config';
import { createDatabase, fileStats, getRun, listFiles, listRuns, type FileStatus } from '@lovsync/shared/db';
import { extractPath } from '@lovsync/sync';
import { printRows } from './table.ts';

async function withDb<T>(fn: (db: ReturnType<typeof createDatabase>) => Promise<T>): Promise<T> {
  const db = createDatabase(config().DATABASE_URL, { max: 2, applicationName: 'lovsync-cli' });
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

export async function runsCommand(o: { limit: number; json: boolean }): Promise<void> {
  await withDb(async (db) => {
    const runs = await listRuns(db.pool, { limit: o.limit });
    printRows(runs as unknown as Record<string, unknown>[], o.json, [
      'id',
      'trigger',
      'status',
      'startedAt',
      'finishedAt',
      'datasetsChanged',
      'filesAdded',
      'filesModified',
      'filesRemoved',
      'parseSucceeded',
      'parseTotal',
      'parseFailed',
      'error',
    ]);
  });
}

export async function changesCommand(o: { run: number; json: boolean }): Promise<void> {
  await withDb(async (db) => {
    if (!(await getRun(db.pool, o.run))) throw new Error(`run ${o.run} not found (see \`lovsync runs\`)`);
    const files = await db.pool.query(
      `SELECT dataset, path, change, old_hash AS "oldHash", new_hash AS "newHash", parse_status AS "parseStatus", parse_error AS "parseError"
       FROM file_changes WHERE run_id = $1 ORDER BY dataset, path`,
      [o.run],
    );
    const docs = await db.pool.query(
      `SELECT document_id AS "documentId", change, kind, sections_added AS "sectionsAdded",
         sections_modified AS "sectionsModified", sections_removed AS "sectionsRemoved"
       FROM document_changes WHERE run_id = $1 ORDER BY document_id`,
      [o.run],
    );
    const sections = await db.pool.query(
      `SELECT document_id AS "documentId", section_key AS "sectionKey", sc.change, sc.number, sc.heading_path AS "headingPath",
         sc.old_text AS "oldText", sc.new_text AS "newText"
       FROM section_changes sc
       LEFT JOIN sections s USING (document_id, section_key)
       WHERE sc.run_id = $1 ORDER BY sc.document_id, s.ord NULLS LAST, sc.section_key`,
      [o.run],
    );
    if (o.json) {
      process.stdout.write(
        `${JSON.stringify({ files: files.rows, documents: docs.rows, sections: sections.rows }, null, 2)}\n`,
      );
      return;
    }
    process.stdout.write(`files changed in run ${o.run}:\n`);
    printRows(files.rows, false, ['dataset', 'path', 'change', 'parseStatus', 'parseError']);
    process.stdout.write(`\ndocuments changed:\n`);
    printRows(docs.rows, false);
    process.stdout.write(`\nsections changed:\n`);
    printRows(sections.rows, false, ['documentId', 'sectionKey', 'change', 'headingPath']);
  });
}

export async function filesListCommand(o: {
  status?: FileStatus | 'changed';
  dataset?: string;
  limit?: number;
  json: boolean;
}): Promise<void> {
  await withDb(async (db) => {
    const rows = await listFiles(db.pool, { status: o.status, dataset: o.dataset, limit: o.limit });
    printRows(rows as unknown as Record<string, unknown>[], o.json, [
      'dataset',
      'path',
      'status',
      'hash',
      'size',
      'lastChanged',
    ]);
  });
}

export async function filesStatsCommand(o: { json: boolean }): Promise<void> {
  await withDb(async (db) =>
    printRows((await fileStats(db.pool)) as unknown as Record<string, unknown>[], o.json),
  );
}

/** Drops removed file rows (and their EXTRACT_DIR copies) and blobs no file, change or document references. */
export async function filesPruneCommand(o: { dryRun: boolean }): Promise<void> {
  const extractDir = config().EXTRACT_DIR;
  await withDb(async (db) => {
    const removed = await db.pool.query<{ dataset: string; path: string }>(
      `SELECT dataset, path FROM files WHERE status = 'removed'`,
    );
    const orphanBlobs = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM blobs b WHERE NOT EXISTS (SELECT 1 FROM files f WHERE f.hash = b.hash)
         AND NOT EXISTS (SELECT 1 FROM file_changes fc WHERE fc.new_hash = b.hash AND fc.parse_status = 'pending')`,
    );
    if (!o.dryRun) {
      for (const f of removed.rows) {
        if (extractDir) await rm(extractPath(extractDir, f.dataset, f.path), { force: true });
      }
      await db.pool.query(`DELETE FROM files WHERE status = 'removed'`);
      await db.pool.query(
        `DELETE FROM blobs b WHERE NOT EXISTS (SELECT 1 FROM files f WHERE f.hash = b.hash)
           AND NOT EXISTS (SELECT 1 FROM file_changes fc WHERE fc.new_hash = b.hash AND fc.parse_status = 'pending')`,
      );
    }
    process.stdout.write(
      `${o.dryRun ? 'would prune' : 'pruned'} ${removed.rowCount} removed file(s) and ${orphanBlobs.rows[0]!.n} unreferenced blob(s)\n`,
    );
  });
}
