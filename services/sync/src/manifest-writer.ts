import type pg from 'pg';
import { postgresBlobStore, type BlobStore } from '@lovsync/shared/blob-store';

export interface ManifestEntry {
  path: string;
  hash: string;
  size: number;
}

interface BatchEntry extends ManifestEntry {
  /** Held only when this content may have to be stored (see add). */
  content: Buffer | null;
}

/**
 * Writes a dataset's manifest rows and the contents of new hashes in batches, on one client inside
 * the caller's transaction. One batch is written while the archive reader fills the next, so the
 * decoder and Postgres work at the same time. Contents already stored (or known to be the file's
 * current version) are never sent again.
 */
export class ManifestWriter {
  private batch: BatchEntry[] = [];
  private batchBytes = 0;
  private inFlight: Promise<void> = Promise.resolve();
  private failed: Error | null = null;
  newBlobs = 0;
  newBlobBytes = 0;
  rows = 0;
  private readonly blobs: BlobStore;

  constructor(
    private readonly client: pg.PoolClient,
    private readonly runId: number,
    private readonly dataset: string,
    /** path -> hash of the dataset's current files: those contents are in the store already. */
    private readonly current: Map<string, string>,
    private readonly maxBatchRows = 1000,
    private readonly maxBatchBytes = 2 * 1024 * 1024,
  ) {
    this.blobs = postgresBlobStore(client);
  }

  /**
   * Adds a manifest row. `content` is asked for only when the file's hash is not its current,
   * stored version: an unchanged file's content is neither joined nor held in the batch.
   */
  async add(entry: ManifestEntry, content: () => Buffer): Promise<void> {
    if (this.failed) throw this.failed;
    const held = this.current.get(entry.path) !== entry.hash ? content() : null;
    this.batch.push({ ...entry, content: held });
    this.batchBytes += held?.length ?? 0;
    if (this.batch.length >= this.maxBatchRows || this.batchBytes >= this.maxBatchBytes) await this.flush();
  }

  /** Hands the batch to Postgres; waits only for the previous batch (at most one in flight). */
  private async flush(): Promise<void> {
    const batch = this.batch;
    this.batch = [];
    this.batchBytes = 0;
    await this.inFlight;
    if (this.failed) throw this.failed;
    this.inFlight = this.write(batch).catch((err: Error) => {
      this.failed = err;
    });
  }

  async finish(): Promise<void> {
    if (this.batch.length) await this.flush();
    await this.inFlight;
    if (this.failed) throw this.failed;
  }

  private async write(batch: BatchEntry[]): Promise<void> {
    if (batch.length === 0) return;
    const candidates = new Map<string, Buffer>();
    for (const e of batch) if (e.content) candidates.set(e.hash, e.content);
    if (candidates.size) {
      for (const hash of await this.blobs.existing([...candidates.keys()])) candidates.delete(hash);
    }
    if (candidates.size) {
      const contents = [...candidates.values()];
      await this.blobs.putMany([...candidates].map(([hash, content]) => ({ hash, content })));
      this.newBlobs += candidates.size;
      for (const c of contents) this.newBlobBytes += c.length;
    }
    await this.client.query(
      `INSERT INTO manifest_entries (run_id, dataset, path, hash, size)
       SELECT $1, $2, p, h, s FROM unnest($3::text[], $4::text[], $5::bigint[]) AS t(p, h, s)`,
      [
        this.runId,
        this.dataset,
        batch.map((e) => e.path),
        batch.map((e) => e.hash),
        batch.map((e) => e.size),
      ],
    );
    this.rows += batch.length;
  }
}
