/**
 * CPU seconds of the Postgres backends of one database over an interval in which backends come and
 * go (a child process connects, works and exits): /proc is sampled every `intervalMs` and each
 * backend counts up to its last sample, so a backend loses at most its last interval.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { processCpuSeconds } from './cpu.ts';

function backendCpu(database: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let title: string;
    try {
      title = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (title.startsWith('postgres: ') && title.includes(` ${database} `)) {
      out.set(Number(entry), processCpuSeconds(Number(entry)));
    }
  }
  return out;
}

export function sampleBackendCpu(database: string, intervalMs = 200): { stop(): number } {
  const start = backendCpu(database);
  const last = new Map(start);
  const sample = () => {
    for (const [pid, cpu] of backendCpu(database)) if (cpu > 0) last.set(pid, cpu);
  };
  const timer = setInterval(sample, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      let total = 0;
      for (const [pid, cpu] of last) total += cpu - (start.get(pid) ?? 0);
      return total;
    },
  };
}
