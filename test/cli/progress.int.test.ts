/* eslint-disable no-control-regex -- terminal escape sequences are what these tests check */
/**
 * `lovsync run`'s live progress display (issue 16 point 10), on a real run against the emulator:
 * plain lines when stderr is a pipe (no \r, no escape codes, logs and progress lines whole), and on a
 * pseudo-terminal (util-linux `script`) one block redrawn in place with the log lines printed above
 * it, never inside it.
 */
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFixtureArchives } from '@lovsync/testkit/archive/archive-builder';
import { startEmulator, type Emulator } from '@lovsync/testkit/emulator/server';
import { createTestEnv, type TestEnv } from '@lovsync/testkit/support/harness';
import { requireTool } from '@lovsync/testkit/support/optional-tools';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const exec = promisify(execFile);
const ESC = '\u001b';
const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g;

let archives: TestEnv;
let emu: Emulator;
const envs: TestEnv[] = [];

beforeAll(async () => {
  archives = await createTestEnv('cli_progress');
  envs.push(archives);
  const dir = join(archives.tmp, 'archives');
  await mkdir(dir, { recursive: true });
  await buildFixtureArchives(dir);
  emu = await startEmulator({ dir });
});
afterAll(async () => {
  await emu?.close();
  for (const e of envs) await e.teardown();
});

/** A database of its own for each run: each is a first sync with 21 files to parse. */
async function runEnv(label: string) {
  const env = await createTestEnv(label);
  envs.push(env);
  return { ...process.env, ...env.env({ LOVDATA_API_URL: emu.url, LOG_LEVEL: 'info' }) };
}

describe('lovsync run progress', () => {
  it('not on a terminal: plain progress lines for hashing, diff and parse, whole log lines, no \\r or escapes', async () => {
    const r = await exec(process.execPath, ['apps/lovsync/bin/lovsync.js', 'run'], {
      cwd: ROOT,
      env: await runEnv('cli_progress_plain'),
      timeout: 120_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    expect(r.stdout).toMatch(/^run \d+ succeeded in /);
    expect(r.stderr).not.toMatch(/[\r\u001b]/);
    const lines = r.stderr.trimEnd().split('\n');
    const progress = lines.filter((l) => !l.startsWith('{'));
    // Every other line is one whole JSON log record.
    for (const l of lines.filter((x) => x.startsWith('{'))) expect(() => JSON.parse(l), l).not.toThrow();
    expect(progress).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^done {2}gjeldende-lover\.tar\.bz2 {2}8 files hashed \(0\.\d MB archive, 0\.\d MB decompressed\)$/,
        ),
        expect.stringMatching(/^done {2}lovtidend-avd1-2025\.tar\.bz2 {2}13 files hashed /),
        'diff  2 / 2 datasets done',
        expect.stringMatching(/^parse {2}\[#{20}\] 100% {2}21 \/ 21 files( {2}[\d.]+ files\/s)? done$/),
      ]),
    );
    // Each line appears when its phase changes, not on every refresh.
    expect(progress.filter((l) => l === 'diff  2 / 2 datasets done')).toHaveLength(1);
    // The summary on stdout is untouched.
    expect(r.stdout).toMatch(/parsed: {3}21\/21 succeeded/);
  }, 150_000);

  it('on a terminal: one block redrawn in place, log lines printed above it and never inside it', async (ctx) => {
    const script = requireTool(ctx, 'script');
    // `script` gives the command a pseudo-terminal for stdin, stdout and stderr and copies its output.
    const r = await exec(
      script,
      ['-q', '-e', '-c', `${process.execPath} apps/lovsync/bin/lovsync.js run`, '/dev/null'],
      { cwd: ROOT, env: await runEnv('cli_progress_tty'), timeout: 120_000, maxBuffer: 64 * 1024 * 1024 },
    );
    const out = r.stdout.replace(/\r\n/g, '\n');
    // Redrawn in place: cursor back to the block's first line, clear to the end.
    const redraws = out.match(/\u001b\[\d+F\u001b\[J/g) ?? [];
    expect(redraws.length).toBeGreaterThan(2);
    // The last frame, before the summary, shows the finished run.
    const tail = out.slice(out.lastIndexOf(`${ESC}[J`) + 3);
    const last = tail.slice(0, tail.search(/^run \d+ succeeded in /m));
    expect(last).toMatch(/^done {6}gjeldende-lover\.tar\.bz2 {6}8 files hashed/m);
    expect(last).toMatch(/^diff {6}2 \/ 2 datasets done$/m);
    expect(last).toMatch(/^parse {5}\[#{20}\] 100% {2}21 \/ 21 files.* done$/m);
    // Pretty log lines (colours stripped) each start a row of their own, never after progress text.
    const rows = out
      .split(/\n|\u001b\[\d+F\u001b\[J/)
      .map((row) => row.replace(ANSI, ''))
      .filter(Boolean);
    const logRows = rows.filter((row) => /INFO \(lovsync\)/.test(row));
    expect(logRows.length).toBeGreaterThan(3);
    for (const row of logRows) expect(row).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO \(lovsync\)/);
    expect(rows.filter((row) => /^(download|hash|done|diff|parse) /.test(row) && /INFO/.test(row))).toEqual(
      [],
    );
    expect(out).toMatch(/run \d+ succeeded in /);
    expect(out).not.toContain('\r\r');
  }, 150_000);
});
