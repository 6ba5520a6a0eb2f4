/**
 * CPU seconds of the shared servers (Redis, Postgres's own background processes) from /proc: on a
 * machine other sessions use too these count their load as well, so read them as upper bounds.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { processCpuSeconds } from './cpu.ts';

/** Postgres processes that are not client backends: postmaster, WAL writer, checkpointer, ... */
const POSTGRES_AUX =
  /^postgres: .*(checkpointer|background writer|walwriter|autovacuum|logical replication|archiver|stats|startup)/;

function processes(): { pid: number; cmdline: string }[] {
  const out: { pid: number; cmdline: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      out.push({ pid: Number(entry), cmdline: readFileSync(`/proc/${entry}/cmdline`, 'utf8') });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** CPU seconds so far of redis-server and of Postgres's postmaster and background processes. */
export function serverCpuSeconds(): { redis: number; postgresAux: number } {
  let redis = 0;
  let postgresAux = 0;
  for (const { pid, cmdline } of processes()) {
    const argv0 = cmdline.split('\0')[0] ?? '';
    if (argv0.startsWith('redis-server')) redis += processCpuSeconds(pid);
    else if (POSTGRES_AUX.test(argv0) || /\/bin\/postgres$/.test(argv0))
      postgresAux += processCpuSeconds(pid);
  }
  return { redis, postgresAux };
}
