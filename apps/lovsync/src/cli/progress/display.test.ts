import { describe, expect, it } from 'vitest';
import type { DatasetProgress } from '@lovsync/sync';
import { ProgressDisplay, type RunProgress } from './display.ts';

const ESC = '\u001b';

/** A stream that records what was written; says isTTY like a terminal would. */
function fakeStream(isTTY: boolean, columns = 100) {
  const writes: string[] = [];
  return { writes, isTTY, columns, write: (s: string) => writes.push(s), text: () => writes.join('') };
}

function ds(p: Partial<DatasetProgress>): DatasetProgress {
  return { phase: 'download', bytes: 0, total: null, files: 0, fileBytes: 0, expectedFiles: null, ...p };
}

function progress(p: Partial<RunProgress>): RunProgress {
  return {
    runId: 1,
    datasets: {},
    diff: { done: 0, total: 0 },
    parse: { succeeded: 0, failed: 0, total: 0 },
    syncFinished: false,
    ...p,
  };
}

describe('progress display on a terminal', () => {
  it('draws a line per dataset, diff and parse with counts, rate and ETA, and redraws in place', () => {
    let now = 0;
    const out = fakeStream(true);
    const d = new ProgressDisplay(out, { now: () => now });
    d.update(progress({ datasets: { 'a.tar.bz2': ds({ bytes: 0, total: 10e6 }) } }));
    expect(out.writes).toHaveLength(1);
    expect(out.writes[0]).toMatch(/^download {2}a\.tar\.bz2 {2}\[\.{20}\] {3}0% {2}0\.0 MB \/ 10\.0 MB\n$/);

    now = 1_000;
    d.update(progress({ datasets: { 'a.tar.bz2': ds({ bytes: 2e6, total: 10e6 }) } }));
    // Back to the first line of the display (1 line), clear, draw again.
    expect(out.writes[1]).toBe(
      `${ESC}[1F${ESC}[J` +
        'download  a.tar.bz2  [####................]  20%  2.0 MB / 10.0 MB  2.0 MB/s ETA 4s\n',
    );

    now = 2_000;
    d.update(
      progress({
        datasets: {
          'a.tar.bz2': ds({
            phase: 'read',
            bytes: 10e6,
            total: 10e6,
            files: 50,
            fileBytes: 5e6,
            expectedFiles: 200,
          }),
          'bb.tar.bz2': ds({ phase: 'unchanged' }),
        },
        diff: { done: 0, total: 1 },
      }),
    );
    now = 3_000;
    d.update(
      progress({
        datasets: {
          'a.tar.bz2': ds({ phase: 'done', bytes: 10e6, total: 10e6, files: 200, fileBytes: 20e6 }),
          'bb.tar.bz2': ds({ phase: 'unchanged' }),
        },
        diff: { done: 1, total: 1 },
        parse: { succeeded: 30, failed: 2, total: 200 },
        syncFinished: true,
      }),
    );
    now = 5_000;
    d.update(
      progress({
        datasets: {
          'a.tar.bz2': ds({ phase: 'done', bytes: 10e6, total: 10e6, files: 200, fileBytes: 20e6 }),
          'bb.tar.bz2': ds({ phase: 'unchanged' }),
        },
        diff: { done: 1, total: 1 },
        parse: { succeeded: 90, failed: 2, total: 200 },
        syncFinished: true,
      }),
    );
    expect(out.writes[2]).toContain('hash      a.tar.bz2   50 / ~200 files, 5.0 MB decompressed\n');
    expect(out.writes[2]).toContain('unchanged  bb.tar.bz2  unchanged, not downloaded\n');
    expect(out.writes[4]).toBe(
      `${ESC}[4F${ESC}[J` +
        'done      a.tar.bz2   200 files hashed (10.0 MB archive, 20.0 MB decompressed)\n' +
        'unchanged  bb.tar.bz2  unchanged, not downloaded\n' +
        'diff      1 / 1 datasets done\n' +
        'parse     [#########...........]  46%  92 / 200 files (2 failed)  30.0 files/s ETA 4s\n',
    );
    expect(out.text()).not.toContain('\r');
  });

  it('prints a log line above the display and redraws it below, never inside it', () => {
    const out = fakeStream(true);
    const d = new ProgressDisplay(out);
    d.update(
      progress({ datasets: { 'a.tar.bz2': ds({ bytes: 1e6, total: 4e6 }) }, diff: { done: 0, total: 1 } }),
    );
    d.logStream.write('{"level":30,"msg":"archive downloaded"}\n');
    expect(out.writes[1]).toBe(
      `${ESC}[2F${ESC}[J` +
        '{"level":30,"msg":"archive downloaded"}\n' +
        'download  a.tar.bz2  [#####...............]  25%  1.0 MB / 4.0 MB\n' +
        'diff      0 / 1 datasets\n',
    );
  });

  it('writes nothing when nothing moved, and cuts lines to the terminal width', () => {
    const out = fakeStream(true, 30);
    const d = new ProgressDisplay(out);
    const p = progress({ datasets: { 'a-very-long-dataset-name.tar.bz2': ds({ bytes: 1e6, total: 4e6 }) } });
    d.update(p);
    d.update(p);
    expect(out.writes).toHaveLength(1);
    expect(out.writes[0]).toBe('download  a-very-long-dataset\n'); // 29 = 30 columns - 1
  });
});

describe('progress display anywhere else (pipe, file, cron)', () => {
  it('prints plain lines: at once on a phase change, otherwise at most every interval; no \\r, no escapes', () => {
    let now = 0;
    const out = fakeStream(false);
    const d = new ProgressDisplay(out, { now: () => now, plainIntervalMs: 10_000 });
    d.update(progress({ datasets: { 'a.tar.bz2': ds({ bytes: 0, total: 4e6 }) } }));
    now = 1_000;
    d.update(progress({ datasets: { 'a.tar.bz2': ds({ bytes: 1e6, total: 4e6 }) } }));
    expect(out.writes).toEqual(['download  a.tar.bz2  [....................]  0%  0.0 MB / 4.0 MB\n']);
    now = 11_000;
    d.update(progress({ datasets: { 'a.tar.bz2': ds({ bytes: 3e6, total: 4e6 }) } }));
    expect(out.writes[1]).toMatch(
      /^download {2}a\.tar\.bz2 {2}\[###############\.{5}\] {2}75% {2}3\.0 MB \/ 4\.0 MB {2}0\.2 MB\/s ETA 5s\n$/,
    );
    now = 12_000;
    d.update(
      progress({
        datasets: { 'a.tar.bz2': ds({ phase: 'done', bytes: 4e6, total: 4e6, files: 9, fileBytes: 8e6 }) },
        diff: { done: 0, total: 1 },
      }),
    );
    expect(out.writes[2]).toBe(
      'done  a.tar.bz2  9 files hashed (4.0 MB archive, 8.0 MB decompressed)\ndiff  0 / 1 datasets\n',
    );
    d.log('a log line');
    now = 13_000;
    d.update(
      progress({
        datasets: { 'a.tar.bz2': ds({ phase: 'done', bytes: 4e6, total: 4e6, files: 9, fileBytes: 8e6 }) },
        diff: { done: 1, total: 1 },
        parse: { succeeded: 3, failed: 0, total: 9 },
        syncFinished: true,
      }),
    );
    now = 14_000;
    d.update(
      progress({
        datasets: { 'a.tar.bz2': ds({ phase: 'done', bytes: 4e6, total: 4e6, files: 9, fileBytes: 8e6 }) },
        diff: { done: 1, total: 1 },
        parse: { succeeded: 8, failed: 1, total: 9 },
        syncFinished: true,
      }),
    );
    d.stop();
    expect(out.writes.slice(3)).toEqual([
      'a log line\n',
      'diff  1 / 1 datasets done\nparse  [######..............]  33%  3 / 9 files\n',
      'parse  [####################] 100%  9 / 9 files (1 failed)  6.0 files/s done\n',
    ]);
    expect(out.text()).not.toContain('\r');
    expect(out.text()).not.toContain(ESC);
  });
});
