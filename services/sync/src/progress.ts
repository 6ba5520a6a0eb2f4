import type { Job } from 'bullmq';

/**
 * Download progress: bytes per dataset go to the BullMQ job's progress (visible in Bull Board) and,
 * when stderr is a terminal, to a one-line progress bar. Updates are throttled.
 */
export class ProgressReporter {
  private readonly state = new Map<string, { bytes: number; total: number | null }>();
  private last = 0;

  constructor(
    private readonly job?: Job,
    private readonly tty: boolean = process.stderr.isTTY === true,
  ) {}

  update(dataset: string, bytes: number, total: number | null): void {
    this.state.set(dataset, { bytes, total });
    const now = Date.now();
    if (now - this.last < 250) return;
    this.last = now;
    this.emit();
  }

  done(dataset: string): void {
    const s = this.state.get(dataset);
    if (s) this.state.set(dataset, { bytes: s.total ?? s.bytes, total: s.total ?? s.bytes });
    this.emit();
    if (this.tty) process.stderr.write('\n');
  }

  private emit(): void {
    const datasets = Object.fromEntries(this.state);
    void this.job?.updateProgress({ datasets }).catch(() => undefined);
    if (!this.tty) return;
    const line = [...this.state.entries()]
      .map(([name, { bytes, total }]) => {
        const pct = total ? Math.min(100, Math.floor((bytes / total) * 100)) : null;
        const bar = pct === null ? '' : `[${'#'.repeat(Math.floor(pct / 5)).padEnd(20, '.')}] ${pct}% `;
        return `${name} ${bar}${(bytes / 1e6).toFixed(1)} MB`;
      })
      .join('  ');
    process.stderr.write(`\r${line.slice(0, 200)}`);
  }
}
