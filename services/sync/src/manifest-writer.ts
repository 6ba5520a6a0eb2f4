import type pg from 'pg';

export interface ManifestEntry {
  path: string;
  hash: string;
  size: number;
  content: Buffer;
}

/**
 * Writes a dataset's manifest rows and the contents of new hashes in batches, on one client inside
 * the caller's transaction. One batch is written while the archive reader fills the next, so the
 * decoder and Postgres work at the same time. Contents already stored (or known to be the file's
 * current version) are never sent again.
 */
export class ManifestWriter {
  private batch: ManifestEntry[] = [];
  private batchBytes = 0;
  private inFlight: Promise<void> = Promise.resolve();
  private failed: Error | null = null;
  newBlobs = 0;
  newBlobBytes = 0;
  rows = 0;

  constructor(
    private readonly client: pg.PoolClient,
    private readonly runId: number,
    private readonly dataset: string,
    /** path -> hash of the dataset's current files: those contents are in the store already. */
    private readonly current: Map<string, string>,
    private readonly maxBatchRows = 1000,
    private readonly maxBatchBytes = 2 * 1024 * 1024,
  ) {}

  async add(entry: ManifestEntry): Promise<void> {
    if (this.failed) throw this.failed;
    this.batch.push(entry);
    this.batchBytes += entry.content.length;
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

  private async write(batch: ManifestEntry[]): Promise<void> {
    if (batch.length === 0) return;
    const candidates = new Map<string, Buffer>();
    for (const e of batch) if (this.current.get(e.path) !== e.hash) candidates.set(e.hash, e.content);
    if (candidates.size) {
      const have = await this.client.query<{ hash: string }>(
        'SELECT hash FROM blobs WHERE hash = ANY($1::text[])',
        [[...candidates.keys()]],
      );
      for (const r of have.rows) candidates.delete(r.hash);
    }
    if (candidates.size) {
      const hashes = [...candidates.keys()];
      const contents = [...candidates.values()];
      await this.client.query(
        `INSERT INTO blobs (hash, size, content)
         SELECT h, octet_length(c), c FROM unnest($1::text[], $2::bytea[]) AS t(h, c)
         ON CONFLICT (hash) DO NOTHING`,
        [hashes, contents],
      );
      this.newBlobs += hashes.length;
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
