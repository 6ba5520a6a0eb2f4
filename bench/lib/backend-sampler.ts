/**
 * CPU seconds of the Postgres backends of one database over an interval in which backends come and
 * go (a child process connects, works and exits): /proc is sampled every `intervalMs` and each
 * backend counts up to its last sample, so a backend loses at most its last interval.
 */
import { postgresBackendCpuByPid } from './cpu.ts';

export function sampleBackendCpu(database: string, intervalMs = 200): { stop(): number } {
  const start = postgresBackendCpuByPid(database);
  const last = new Map(start);
  const sample = () => {
    for (const [pid, cpu] of postgresBackendCpuByPid(database)) if (cpu > 0) last.set(pid, cpu);
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
