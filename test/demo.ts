/**
 * `pnpm demo`: the offline way to see the whole system work in one command. Builds Lovdata-like
 * archives from the real fixtures, serves them with the Lovdata API emulator and runs one full
 * `lovsync run` against it (PostgreSQL and Redis from DATABASE_URL / REDIS_URL, defaults local).
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { buildFixtureArchives } from '@lovsync/testkit/archive/archive-builder';
import { startEmulator } from '@lovsync/testkit/emulator/server';

const dir = await mkdtemp(join(tmpdir(), 'lovsync-demo-'));
const built = await buildFixtureArchives(dir);
const emulator = await startEmulator({ dir });
// stderr: with --json, stdout carries only the run's JSON summary.
process.stderr.write(`emulator ${emulator.url} serving ${built.join(', ')}\n`);
const child = spawn(process.execPath, ['apps/lovsync/bin/lovsync.js', 'run', ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: {
    ...process.env,
    LOVDATA_API_URL: emulator.url,
    LOVDATA_DATASET_FILTER: process.env.LOVDATA_DATASET_FILTER ?? 'null',
    RAW_DATA_DIR: process.env.RAW_DATA_DIR ?? join(dir, 'raw'),
    POLL_INTERVAL_SECONDS: '0',
  },
});
const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
await emulator.close();
process.exitCode = code;
