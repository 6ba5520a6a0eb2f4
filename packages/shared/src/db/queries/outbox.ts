import type pg from 'pg';

type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

/** Which document events a feed shows. */
export type FeedFilter =
  | { kind: 'all' }
  | { kind: 'document'; documentId: string }
  | { kind: 'legal_area'; slug: string }
  | { kind: 'ministry'; slug: string };

export interface FeedEntry {
  eventId: number;
  runId: number;
  documentId: string;
  finishedAt: Date;
  payload: {
    type: string;
    title: string;
    shortTitle: string | null;
    change: 'added' | 'modified' | 'removed';
    kind: string | null;
    sections: { added: number; modified: number; removed: number };
  };
  sections: {
    key: string;
    number: string | null;
    change: string;
    oldText: string | null;
    newText: string | null;
  }[];
}

/**
 * Document events of finished runs, newest first, one per changed document per run, with the
 * changed sections (texts cut to 400 characters). `before` pages by event id.
 */
export async function listFeedEntries(
  db: Queryable,
  p: { filter: FeedFilter; before?: number; limit: number },
): Promise<FeedEntry[]> {
  const f = p.filter;
  const value = f.kind === 'document' ? f.documentId : f.kind === 'all' ? null : f.slug;
  const r = await db.query<FeedEntry>(
    `SELECT o.id::int AS "eventId", o.run_id AS "runId", o.document_id AS "documentId", r.finished_at AS "finishedAt",
       o.payload,
       COALESCE((SELECT json_agg(json_build_object('key', s.section_key, 'number', s.payload->>'number',
           'change', s.payload->>'change', 'oldText', left(s.payload->>'oldText', 400), 'newText', left(s.payload->>'newText', 400))
           ORDER BY s.id)
         FROM outbox s WHERE s.run_id = o.run_id AND s.document_id = o.document_id AND s.event LIKE 'section.%'), '[]') AS sections
     FROM outbox o JOIN sync_runs r ON r.id = o.run_id AND r.status <> 'running'
     WHERE o.event LIKE 'document.%' AND ($3::bigint IS NULL OR o.id < $3)
       AND CASE $1
         WHEN 'all' THEN true
         WHEN 'document' THEN o.document_id = $2
         WHEN 'legal_area' THEN $2 = ANY(lovsync_area_slugs(o.legal_areas))
         ELSE $2 = ANY(ARRAY(SELECT lovsync_slug(m) FROM unnest(o.ministries) m)) END
     ORDER BY o.id DESC LIMIT $4`,
    [f.kind, value, p.before ?? null, p.limit],
  );
  return r.rows;
}

/** When the last run finished (a feed with no entries still has an updated time). */
export async function lastFinishedAt(db: Queryable): Promise<Date | null> {
  const r = await db.query<{ t: Date | null }>(
    `SELECT max(finished_at) AS t FROM sync_runs WHERE status <> 'running'`,
  );
  return r.rows[0]?.t ?? null;
}

/** A position in the chunk change stream: after event `position` of run `runId` (null: after the whole run). */
export interface ChunkCursor {
  runId: number;
  position: number | null;
}

/** `R` (after run R; 0 = from the start) or `R:P` (after position P of run R). */
export function parseChunkCursor(v: string): ChunkCursor {
  const m = /^(\d{1,10})(?::(\d{1,18}))?$/.exec(v.trim());
  if (!m)
    throw new Error(`invalid cursor "${v.slice(0, 40)}": expected RUN or RUN:POSITION, e.g. 0 or 12:3456`);
  const runId = Number(m[1]);
  if (runId > 2_147_483_647) throw new Error('invalid cursor: run id out of range');
  return { runId, position: m[2] === undefined ? null : Number(m[2]) };
}

export interface ChunkChange {
  cursor: string;
  runId: number;
  chunkId: string;
  documentId: string;
  sectionKey: string;
  change: 'added' | 'modified' | 'removed';
  oldHash: string | null;
  newHash: string | null;
  editorialOnly: boolean;
  /** The chunk as it is now, when it still has this change's content (else null: a later run changed it again). */
  text: string | null;
  headingPath: string | null;
  ord: number | null;
  tokenCount: number | null;
}

/**
 * The chunk change stream after `cursor`, in (run, position) order, over finished runs only and
 * never past a run still running (its set is not final), so a consumer that stores nextCursor
 * and calls again misses nothing and sees nothing twice.
 */
export async function listChunkChanges(
  db: Queryable,
  p: { cursor: ChunkCursor; limit: number },
): Promise<{ items: ChunkChange[]; nextCursor: string; hasMore: boolean }> {
  const bound = await db.query<{ upto: number | null }>(
    `SELECT max(id) AS upto FROM sync_runs WHERE status <> 'running'
       AND id < COALESCE((SELECT min(id) FROM sync_runs WHERE status = 'running'), 2147483647)`,
  );
  const upto = bound.rows[0]?.upto ?? 0;
  const pos = p.cursor.position ?? Number.MAX_SAFE_INTEGER;
  const r = await db.query<ChunkChange>(
    `SELECT cc.run_id || ':' || cc.id AS cursor, cc.run_id AS "runId", cc.chunk_id AS "chunkId", cc.document_id AS "documentId",
       cc.section_key AS "sectionKey", cc.change, cc.old_hash AS "oldHash", cc.new_hash AS "newHash",
       cc.editorial_only AS "editorialOnly", c.text, c.heading_path AS "headingPath", c.ord, c.token_count AS "tokenCount"
     FROM chunk_changes cc
     LEFT JOIN chunks c ON cc.change <> 'removed' AND c.chunk_id = cc.chunk_id AND c.content_hash = cc.new_hash
     WHERE (cc.run_id, cc.id) > ($1::int, $2::bigint) AND cc.run_id <= $3
     ORDER BY cc.run_id, cc.id LIMIT $4`,
    [p.cursor.runId, pos, upto, p.limit],
  );
  const items = r.rows;
  const hasMore = items.length === p.limit;
  const nextCursor = items.length
    ? items.at(-1)!.cursor
    : upto > p.cursor.runId
      ? String(upto)
      : p.cursor.position === null
        ? String(p.cursor.runId)
        : `${p.cursor.runId}:${p.cursor.position}`;
  return { items, nextCursor, hasMore };
}
