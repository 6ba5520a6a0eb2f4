import type { Job } from 'bullmq';

/** Where one dataset of a sync is: downloading, decompressing and hashing its entries, or finished. */
export type DatasetPhase = 'download' | 'read' | 'done' | 'unchanged' | 'failed';

export interface DatasetProgress {
  phase: DatasetPhase;
  /** Archive bytes on disk so far (a resumed download starts at its offset). */
  bytes: number;
  /** Archive size when known (Content-Length or the list's sizeBytes). */
  total: number | null;
  /** Entries decompressed and hashed so far. */
  files: number;
  /** Uncompressed bytes hashed so far. */
  fileBytes: number;
  /** How many files the dataset had after its last sync (an estimate for the ETA; null on a first sync). */
  expectedFiles: number | null;
}

/** The sync job's progress as stored in BullMQ (visible in Bull Board, read by `lovsync run`'s display). */
export interface SyncJobProgress {
  datasets: Record<string, DatasetProgress>;
}

/**
 * Sync progress per dataset, written to the BullMQ job's progress (throttled; every phase change is
 * written at once). It never writes to the terminal: `lovsync run` reads it back and draws one live
 * display for download, hashing, diff and parse (apps/lovsync/src/cli/progress).
 */
export class ProgressReporter {
  private readonly state = new Map<string, DatasetProgress>();
  private last = 0;

  constructor(
    private readonly job?: Pick<Job, 'updateProgress'>,
    private readonly intervalMs = 250,
  ) {}

  /** Download bytes (from download.ts's onProgress). */
  update(dataset: string, bytes: number, total: number | null): void {
    const s = this.get(dataset);
    s.bytes = bytes;
    s.total = total;
    this.emit(false);
  }

  /** The archive is on disk; decompression and hashing start. */
  reading(dataset: string, expectedFiles: number | null): void {
    const s = this.get(dataset);
    s.phase = 'read';
    if (s.total === null) s.total = s.bytes;
    s.bytes = s.total;
    s.expectedFiles = expectedFiles;
    this.emit(true);
  }

  /** One entry decompressed and hashed. */
  entry(dataset: string, size: number): void {
    const s = this.get(dataset);
    s.files++;
    s.fileBytes += size;
    this.emit(false);
  }

  finished(dataset: string, phase: 'done' | 'unchanged' | 'failed'): void {
    this.get(dataset).phase = phase;
    this.emit(true);
  }

  snapshot(): SyncJobProgress {
    return { datasets: Object.fromEntries([...this.state].map(([k, v]) => [k, { ...v }])) };
  }

  private get(dataset: string): DatasetProgress {
    let s = this.state.get(dataset);
    if (!s) {
      s = { phase: 'download', bytes: 0, total: null, files: 0, fileBytes: 0, expectedFiles: null };
      this.state.set(dataset, s);
    }
    return s;
  }

  private emit(force: boolean): void {
    const now = Date.now();
    if (!force && now - this.last < this.intervalMs) return;
    this.last = now;
    void this.job?.updateProgress(this.snapshot() as unknown as object).catch(() => undefined);
  }
}
