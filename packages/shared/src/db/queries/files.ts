import type pg from 'pg';

type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

export type FileStatus = 'added' | 'modified' | 'unchanged' | 'removed';

export interface FileRow {
  dataset: string;
  path: string;
  hash: string;
  size: number;
  status: FileStatus;
  lastChanged: Date | null;
  lastRunId: number | null;
}

/** lovlig's `files list`: `changed` = added or modified. */
export async function listFiles(
  db: Queryable,
  p: { status?: FileStatus | 'changed'; dataset?: string; limit?: number },
): Promise<FileRow[]> {
  const statuses =
    p.status === undefined ? null : p.status === 'changed' ? ['added', 'modified'] : [p.status];
  const res = await db.query<FileRow>(
    `SELECT dataset, path, hash, size, status, last_changed AS "lastChanged", last_run_id AS "lastRunId"
     FROM files
     WHERE ($1::text[] IS NULL OR status = ANY($1)) AND ($2::text IS NULL OR dataset = $2)
     ORDER BY dataset, path LIMIT $3`,
    [statuses, p.dataset ?? null, p.limit ?? 1_000_000],
  );
  return res.rows;
}

export interface FileStats {
  dataset: string;
  total: number;
  added: number;
  modified: number;
  unchanged: number;
  removed: number;
  bytes: number;
}

export async function fileStats(db: Queryable): Promise<FileStats[]> {
  const res = await db.query<FileStats>(
    `SELECT dataset, count(*) AS total,
       count(*) FILTER (WHERE status = 'added') AS added,
       count(*) FILTER (WHERE status = 'modified') AS modified,
       count(*) FILTER (WHERE status = 'unchanged') AS unchanged,
       count(*) FILTER (WHERE status = 'removed') AS removed,
       COALESCE(sum(size) FILTER (WHERE status <> 'removed'), 0)::bigint AS bytes
     FROM files GROUP BY dataset ORDER BY dataset`,
  );
  return res.rows;
}

/** Blobs that nothing needs any more: no file row holds them and no pending parse will read them. */
const ORPHAN_BLOBS = `FROM blobs b WHERE NOT EXISTS (SELECT 1 FROM files f WHERE f.hash = b.hash)
  AND NOT EXISTS (SELECT 1 FROM file_changes fc WHERE fc.new_hash = b.hash AND fc.parse_status = 'pending')`;

/** Counts the orphan blobs, or deletes them (`remove`) and counts what was deleted. */
export async function orphanBlobs(db: Queryable, p: { remove: boolean }): Promise<number> {
  if (p.remove) return (await db.query(`DELETE ${ORPHAN_BLOBS}`)).rowCount ?? 0;
  return (await db.query<{ n: number }>(`SELECT count(*)::int AS n ${ORPHAN_BLOBS}`)).rows[0]!.n;
}
