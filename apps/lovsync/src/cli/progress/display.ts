import { Writable } from 'node:stream';
import type { RunProgress } from '../../compose/run-progress.ts';

export type { RunProgress };

/** The part of a stream the display writes to (process.stderr, or a fake in tests). */
export interface DisplayStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

interface Line {
  /** Stable identity of the line (a dataset, "diff", "parse"). */
  key: string;
  /** Coarse state: a plain-text display prints a line at once when this changes. */
  phase: string;
  text: string;
}

/** Counts seen over the last few seconds, for a rate and an ETA. */
class RateMeter {
  private readonly samples: { t: number; n: number }[] = [];
  constructor(private readonly windowMs = 5_000) {}
  add(t: number, n: number): void {
    const last = this.samples.at(-1);
    if (last && n < last.n) this.samples.length = 0; // restarted (a retried download)
    this.samples.push({ t, n });
    while (this.samples.length > 2 && t - this.samples[0]!.t > this.windowMs) this.samples.shift();
  }
  /** Units per second, or null before there is a span to measure. */
  rate(): number | null {
    const first = this.samples[0];
    const last = this.samples.at(-1);
    if (!first || !last || last.t - first.t < 200) return null;
    return ((last.n - first.n) * 1000) / (last.t - first.t);
  }
}

const ESC = '\u001b';

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
const count = (n: number) => n.toLocaleString('en-US');

function eta(remaining: number, rate: number | null): string {
  if (rate === null || rate <= 0 || remaining <= 0) return '';
  const s = Math.ceil(remaining / rate);
  return s >= 60 ? ` ETA ${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : ` ETA ${s}s`;
}

function bar(done: number, total: number, width = 20): string {
  const share = total > 0 ? Math.min(1, done / total) : 0;
  const filled = Math.floor(share * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.floor(share * 100)).padStart(3)}%`;
}

/**
 * One live progress display for `lovsync run`: a line per dataset (download, then decompress and
 * hash), a diff line and a parse line, each with counts, rate and ETA where they are known.
 *
 * On a TTY the lines are redrawn in place (ANSI: cursor up, clear to the end) and log lines go
 * through `log()` / `logStream`, which clears the display, prints the log line and redraws it below,
 * so logs never interleave with it. Anywhere else (a pipe, a file, cron) it prints plain lines, no
 * `\r` and no escape codes: a line as soon as its phase changes (a download starts, ends; hashing
 * ends; ...) and otherwise at most every `plainIntervalMs` when its numbers moved.
 */
export class ProgressDisplay {
  readonly tty: boolean;
  /** A stream for the logger: each write is printed above the display. */
  readonly logStream: Writable;
  private drawn = 0;
  private lines: Line[] = [];
  private readonly meters = new Map<string, RateMeter>();
  private readonly printed = new Map<string, { phase: string; text: string; at: number }>();
  private stopped = false;
  private lastFrame = '';

  constructor(
    private readonly out: DisplayStream,
    private readonly opts: { plainIntervalMs?: number; now?: () => number } = {},
  ) {
    this.tty = out.isTTY === true;
    this.logStream = new Writable({
      write: (chunk: Buffer | string, _enc, cb) => {
        this.log(chunk.toString());
        cb();
      },
    });
  }

  private now(): number {
    return this.opts.now ? this.opts.now() : Date.now();
  }

  private meter(key: string, n: number, t: number): RateMeter {
    let m = this.meters.get(key);
    if (!m) this.meters.set(key, (m = new RateMeter()));
    m.add(t, n);
    return m;
  }

  /** Lines for a progress snapshot; rates come from the snapshots seen before. */
  render(p: RunProgress): Line[] {
    const t = this.now();
    const lines: Line[] = [];
    const names = Object.keys(p.datasets).sort();
    const width = Math.max(0, ...names.map((n) => n.length));
    for (const name of names) {
      const d = p.datasets[name]!;
      const label = name.padEnd(width);
      if (d.phase === 'download') {
        const rate = this.meter(`dl:${name}`, d.bytes, t).rate();
        const size = d.total ? `${mb(d.bytes)} / ${mb(d.total)}` : mb(d.bytes);
        lines.push({
          key: name,
          phase: 'download',
          text: `download  ${label}  ${d.total ? `${bar(d.bytes, d.total)}  ` : ''}${size}${rate !== null ? `  ${mb(rate)}/s` : ''}${d.total ? eta(d.total - d.bytes, rate) : ''}`,
        });
      } else if (d.phase === 'read') {
        const rate = this.meter(`rd:${name}`, d.files, t).rate();
        const of = d.expectedFiles ? ` / ~${count(d.expectedFiles)}` : '';
        lines.push({
          key: name,
          phase: 'read',
          text: `hash      ${label}  ${count(d.files)}${of} files, ${mb(d.fileBytes)} decompressed${rate !== null ? `  ${count(Math.round(rate))} files/s` : ''}${d.expectedFiles ? eta(d.expectedFiles - d.files, rate) : ''}`,
        });
      } else {
        const what =
          d.phase === 'done'
            ? `${count(d.files)} files hashed (${mb(d.bytes)} archive, ${mb(d.fileBytes)} decompressed)`
            : d.phase === 'unchanged'
              ? 'unchanged, not downloaded'
              : 'failed';
        lines.push({ key: name, phase: d.phase, text: `${d.phase.padEnd(8)}  ${label}  ${what}` });
      }
    }
    if (p.diff.total > 0) {
      const complete = p.syncFinished && p.diff.done >= p.diff.total;
      lines.push({
        key: 'diff',
        phase: complete ? 'done' : 'diff',
        text: `diff      ${count(p.diff.done)} / ${count(p.diff.total)} datasets${complete ? ' done' : ''}`,
      });
    }
    if (p.parse.total > 0) {
      const done = p.parse.succeeded + p.parse.failed;
      const rate = this.meter('parse', done, t).rate();
      const complete = p.syncFinished && p.diff.done >= p.diff.total && done >= p.parse.total;
      lines.push({
        key: 'parse',
        phase: complete ? 'done' : 'parse',
        text: `parse     ${bar(done, p.parse.total)}  ${count(done)} / ${count(p.parse.total)} files${p.parse.failed ? ` (${count(p.parse.failed)} failed)` : ''}${rate !== null ? `  ${rate.toFixed(1)} files/s` : ''}${complete ? ' done' : eta(p.parse.total - done, rate)}`,
      });
    }
    return lines;
  }

  update(p: RunProgress): void {
    if (this.stopped) return;
    this.lines = this.render(p);
    if (this.tty) this.redraw();
    else this.printChanged(false);
  }

  /** Prints text (a log line) without breaking the display. */
  log(text: string): void {
    const chunk = text.endsWith('\n') ? text : `${text}\n`;
    if (!this.tty || this.stopped) {
      this.out.write(chunk);
      return;
    }
    this.out.write(this.erase() + chunk + this.frame());
  }

  /** Leaves the last state on screen (TTY) or prints what changed since the last line (plain). */
  stop(): void {
    if (this.stopped) return;
    if (this.tty) this.redraw();
    else this.printChanged(true);
    this.stopped = true;
  }

  private erase(): string {
    if (this.drawn === 0) return '';
    const n = this.drawn;
    this.drawn = 0;
    // Cursor to the start of the display's first line, then clear to the end of the screen.
    return `${ESC}[${n}F${ESC}[J`;
  }

  private frame(): string {
    // A pseudo-terminal may report no width (0): assume 100 columns then.
    const cols = Math.max(20, (this.out.columns || 100) - 1);
    this.drawn = this.lines.length;
    // Lines are cut to the terminal's width so that each takes exactly one row.
    return this.lines.map((l) => `${l.text.slice(0, cols)}\n`).join('');
  }

  private redraw(): void {
    const frame = this.lines.map((l) => l.text).join('\n');
    // Nothing moved: no rewrite (no flicker, no output for a terminal recorder).
    if (this.drawn === this.lines.length && frame === this.lastFrame) return;
    this.lastFrame = frame;
    this.out.write(this.erase() + this.frame());
  }

  private printChanged(final: boolean): void {
    const t = this.now();
    const interval = this.opts.plainIntervalMs ?? 10_000;
    let out = '';
    for (const l of this.lines) {
      const before = this.printed.get(l.key);
      const due =
        !before ||
        before.phase !== l.phase ||
        (before.text !== l.text && (final || t - before.at >= interval));
      if (!due) continue;
      this.printed.set(l.key, { phase: l.phase, text: l.text, at: t });
      out += `${l.text.replace(/ {2,}/g, '  ')}\n`;
    }
    if (out) this.out.write(out);
  }
}
