/** CPU accounting from /proc: where the seconds of a bench went (Linux only). */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** User + system CPU seconds in a /proc stat file (a process's or one thread's), 0 if it is gone. */
function statCpuSeconds(path: string): number {
  let stat: string;
  try {
    stat = readFileSync(path, 'utf8');
  } catch {
    return 0;
  }
  // Fields after the command name (which may contain spaces): state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** User + system CPU seconds of a process so far (all its threads), 0 if it is gone. */
export function processCpuSeconds(pid: number): number {
  return statCpuSeconds(`/proc/${pid}/stat`);
}

/** User + system CPU seconds so far of a process's main thread (the JavaScript thread in Node), 0 if gone. */
export function mainThreadCpuSeconds(pid: number): number {
  return statCpuSeconds(`/proc/${pid}/task/${pid}/stat`);
}

/**
 * Seconds a process's main thread has so far spent runnable but waiting for a core (the scheduler's
 * run-queue delay, /proc/<pid>/task/<pid>/schedstat), 0 if it is gone.
 */
export function mainThreadRunQueueSeconds(pid: number): number {
  try {
    const [, waitNs] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').trim().split(' ');
    return Number(waitNs) / 1e9;
  } catch {
    return 0;
  }
}

/** CPU seconds so far of each PostgreSQL backend connected to `database` (from their process titles), by pid. */
export function postgresBackendCpuByPid(database: string): Map<number, number> {
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

/** CPU seconds so far of the PostgreSQL backends connected to `database`. */
export function postgresBackendCpuSeconds(database: string): number {
  let total = 0;
  for (const cpu of postgresBackendCpuByPid(database).values()) total += cpu;
  return total;
}

/** Busy and total CPU seconds of the whole machine so far (all cores, from /proc/stat). */
export function machineCpuSeconds(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0); // idle + iowait
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: (total - idle) / TICKS_PER_SECOND, total: total / TICKS_PER_SECOND };
}
