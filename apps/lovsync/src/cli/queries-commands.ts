/**
 * `lovsync runs | changes | files ...`: read straight from the light query modules (the CLI starts
 * fast: README "Start-up"), the file-system parts loaded only by `files prune`.
 */
import { config } from '@lovsync/shared/config';
import { getRun, listRuns } from '@lovsync/shared/db/runs';
import { listRunChanges } from '@lovsync/shared/db/dashboard';
import { fileStats, listFiles, orphanBlobs, type FileStatus } from '@lovsync/shared/db/files';
import { printRows } from './table.ts';
import { withDb } from './with-db.ts';

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
    // The API's queries (GET /api/runs/:id/changes), every row at once.
    const all = { runId: o.run, limit: Number.MAX_SAFE_INTEGER, offset: 0 };
    const [files, docs, sections] = await Promise.all([
      listRunChanges(db.pool, { ...all, kind: 'files' }),
      listRunChanges(db.pool, { ...all, kind: 'documents' }),
      listRunChanges(db.pool, { ...all, kind: 'sections' }),
    ]);
    if (o.json) {
      process.stdout.write(
        `${JSON.stringify({ files: files.items, documents: docs.items, sections: sections.items }, null, 2)}\n`,
      );
      return;
    }
    const rowsOf = (items: object[]) => items as Record<string, unknown>[];
    process.stdout.write(`files changed in run ${o.run}:\n`);
    printRows(rowsOf(files.items), false, ['dataset', 'path', 'change', 'parseStatus', 'parseError']);
    process.stdout.write(`\ndocuments changed:\n`);
    printRows(rowsOf(docs.items), false, [
      'documentId',
      'change',
      'kind',
      'sectionsAdded',
      'sectionsModified',
      'sectionsRemoved',
    ]);
    process.stdout.write(`\nsections changed:\n`);
    printRows(rowsOf(sections.items), false, ['documentId', 'sectionKey', 'change', 'headingPath']);
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
  const [{ rm }, { extractPath }] = await Promise.all([import('node:fs/promises'), import('@lovsync/sync')]);
  await withDb(async (db) => {
    const removed = await db.pool.query<{ dataset: string; path: string }>(
      `SELECT dataset, path FROM files WHERE status = 'removed'`,
    );
    if (!o.dryRun) {
      for (const f of removed.rows) {
        if (extractDir) await rm(extractPath(extractDir, f.dataset, f.path), { force: true });
      }
      await db.pool.query(`DELETE FROM files WHERE status = 'removed'`);
    }
    const blobs = await orphanBlobs(db.pool, { remove: !o.dryRun });
    process.stdout.write(
      `${o.dryRun ? 'would prune' : 'pruned'} ${removed.rowCount} removed file(s) and ${blobs} unreferenced blob(s)\n`,
    );
  });
}
