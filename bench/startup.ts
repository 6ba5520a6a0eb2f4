/**
 * `pnpm bench:startup` (issue 15): how long `lovsync --help` and `lovsync runs` take to start and
 * finish, as a user runs them (`node apps/lovsync/bin/lovsync.js`, what `pnpm lovsync` and the
 * workspace bin run), compiled bundle vs the TypeScript sources through tsx (LOVSYNC_FROM_SOURCE=1),
 * against bare `node -e ''` in the same script. Target: <= 0.5 s for both commands.
 *
 * `runs` needs a database: the bench migrates its own (BENCH_DATABASE_URL, default a fresh
 * lovsync_bench_startup database on the local server) and reads its (empty) runs list.
 */
import { execFileSync } from 'node:child_process';
import { runMigrations } from '@lovsync/shared/db';
import { bundleIsCurrent } from '../apps/lovsync/bin/sources.js';
import { ROOT, timeShell } from './lib/proc.ts';
import { summarise, verdict } from './lib/stats.ts';

const REPS = Number(process.env.REPS ?? 7);
const DATABASE_URL =
  process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/lovsync_bench_startup';

if (!bundleIsCurrent(ROOT.replace(/\/$/, ''), `${ROOT}apps/lovsync/dist`)) {
  process.stderr.write('bench:startup: the bundle is missing or stale; building it (pnpm build)\n');
  execFileSync('pnpm', ['build'], { cwd: ROOT, stdio: 'inherit' });
}
await runMigrations(DATABASE_URL);

const bin = `${process.execPath} ${ROOT}apps/lovsync/bin/lovsync.js`;
const env = `DATABASE_URL=${DATABASE_URL}`;
async function med(command: string): Promise<number> {
  await timeShell(command); // warm the page cache
  const t: number[] = [];
  for (let i = 0; i < REPS; i++) t.push(await timeShell(command));
  return summarise(t).median;
}

const rows: [string, number][] = [
  ["node -e ''", await med(`${process.execPath} -e ''`)],
  ['lovsync --help (bundle)', await med(`${bin} --help`)],
  ['lovsync runs (bundle)', await med(`${env} ${bin} runs`)],
  ['lovsync --help (tsx)', await med(`LOVSYNC_FROM_SOURCE=1 ${bin} --help`)],
  ['lovsync runs (tsx)', await med(`LOVSYNC_FROM_SOURCE=1 ${env} ${bin} runs`)],
];
const base = rows[0]![1];
process.stdout.write(`start-up, median of ${REPS} (target <= 500 ms):\n`);
for (const [name, ms] of rows)
  process.stdout.write(
    `  ${name.padEnd(26)} ${ms.toFixed(0).padStart(5)} ms  ${(ms / base).toFixed(1)}x node\n`,
  );
verdict('lovsync --help <= 500 ms', rows[1]![1] <= 500, `${rows[1]![1].toFixed(0)} ms`);
verdict('lovsync runs <= 500 ms', rows[2]![1] <= 500, `${rows[2]![1].toFixed(0)} ms`);
