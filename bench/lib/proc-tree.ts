/**
 * Peak RSS and CPU of a process and of every descendant it starts (lbzip2 children), from /proc,
 * sampled every `intervalMs` while it runs. VmHWM only grows, so the last sample of a process is
 * its peak up to at most one interval before it exited; CPU likewise loses at most one interval.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

export interface ProcessSample {
  pid: number;
  /** The command name (/proc/<pid>/comm), e.g. `node`, `lbzip2`. */
  name: string;
  /** Peak resident set size, bytes (VmHWM). */
  peakRss: number;
  /** User + system CPU seconds of the process itself (children not included). */
  cpu: number;
}

function readStat(pid: number): { ppid: number; name: string; cpu: number } | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const close = stat.lastIndexOf(')');
  const name = stat.slice(stat.indexOf('(') + 1, close);
  const fields = stat.slice(close + 2).split(' ');
  return {
    ppid: Number(fields[1]),
    name,
    cpu: (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND,
  };
}

function readHwm(pid: number): number {
  try {
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Resets a live process's VmHWM to its current RSS (Linux: `echo 5 > clear_refs`); false if not allowed. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Samples `root` and its descendants until stop(); returns one record per process seen. */
export function watchProcessTree(root: number, intervalMs = 200): { stop(): ProcessSample[] } {
  const seen = new Map<number, ProcessSample>();
  const sample = () => {
    const parents = new Map<number, number>();
    const stats = new Map<number, { name: string; cpu: number }>();
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const pid = Number(entry);
      if (pid < root && pid !== root) continue; // descendants get higher pids (no wrap-around in a bench)
      const stat = readStat(pid);
      if (!stat) continue;
      parents.set(pid, stat.ppid);
      stats.set(pid, stat);
    }
    const inTree = (pid: number): boolean => {
      for (let p: number | undefined = pid, depth = 0; p !== undefined && depth < 16; depth++) {
        if (p === root) return true;
        p = parents.get(p);
      }
      return false;
    };
    for (const [pid, stat] of stats) {
      if (!inTree(pid)) continue;
      const peakRss = readHwm(pid);
      const previous = seen.get(pid);
      seen.set(pid, {
        pid,
        name: stat.name,
        peakRss: Math.max(peakRss, previous?.peakRss ?? 0),
        cpu: Math.max(stat.cpu, previous?.cpu ?? 0),
      });
    }
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return [...seen.values()];
    },
  };
}
