import type pg from 'pg';

type Queryable = Pick<pg.PoolClient, 'query'>;

/**
 * Change events of a document write (issue 14), in the write's own transaction. Call
 * `stageChunkChanges` before the document's chunks are replaced or deleted and
 * `recordChangeEvents` after its document_changes / section_changes rows are final; both are
 * idempotent and safe when the same document is written more than once in a run (the net change
 * against the state before the run is what remains). The SQL lives in migration 0012
 * (lovsync_stage_chunks, lovsync_record_changes).
 */
export async function stageChunkChanges(c: Queryable, runId: number, documentId: string): Promise<void> {
  await c.query({
    name: 'events-stage-chunks',
    text: 'SELECT lovsync_stage_chunks($1, $2)',
    values: [runId, documentId],
  });
}

/** chunk_changes of the document for the run, and its outbox events rebuilt from the change rows. */
export async function recordChangeEvents(c: Queryable, runId: number, documentId: string): Promise<void> {
  await c.query({
    name: 'events-record',
    text: 'SELECT lovsync_record_changes($1, $2)',
    values: [runId, documentId],
  });
}
