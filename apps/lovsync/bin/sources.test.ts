/** The bin runs the compiled bundle only while no source it was built from changed (never stale code). */
import { mkdtempSync, mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bundleIsCurrent, newestMtime } from './sources.js';

let root: string;
let dist: string;
const t0 = new Date('2026-01-01T00:00:00Z');

function stamp(extra: Record<string, unknown> = {}) {
  writeFileSync(
    join(dist, 'stamp.json'),
    JSON.stringify({
      root,
      newest: t0.getTime(),
      inputs: ['src/a.ts', 'src/b.ts', 'pnpm-lock.yaml'],
      ...extra,
    }),
  );
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'lovsync-bin-'));
  dist = join(root, 'dist');
  mkdirSync(join(root, 'src'));
  mkdirSync(dist);
  for (const f of ['src/a.ts', 'src/b.ts', 'pnpm-lock.yaml']) {
    writeFileSync(join(root, f), 'x');
    utimesSync(join(root, f), t0, t0);
  }
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('bundleIsCurrent', () => {
  it('is true when every input is as old as the stamp', () => {
    stamp();
    expect(newestMtime(root, ['src/a.ts', 'src/b.ts'])).toBe(t0.getTime());
    expect(bundleIsCurrent(root, dist)).toBe(true);
  });
  it('is false once a source is edited (newer than the stamp)', () => {
    stamp();
    const later = new Date(t0.getTime() + 1000);
    utimesSync(join(root, 'src/b.ts'), later, later);
    expect(bundleIsCurrent(root, dist)).toBe(false);
  });
  it('is false when an input went missing, the lockfile changed, or there is no stamp', () => {
    expect(bundleIsCurrent(root, dist)).toBe(false); // no stamp yet
    stamp();
    const later = new Date(t0.getTime() + 1);
    utimesSync(join(root, 'pnpm-lock.yaml'), later, later);
    expect(bundleIsCurrent(root, dist)).toBe(false);
    utimesSync(join(root, 'pnpm-lock.yaml'), t0, t0);
    expect(bundleIsCurrent(root, dist)).toBe(true);
    rmSync(join(root, 'src/a.ts'));
    expect(bundleIsCurrent(root, dist)).toBe(false);
  });
  it('is false for a bundle built for another checkout, or a stamp that is not ours', () => {
    stamp({ root: '/elsewhere' });
    expect(bundleIsCurrent(root, dist)).toBe(false);
    writeFileSync(join(dist, 'stamp.json'), '{not json');
    expect(bundleIsCurrent(root, dist)).toBe(false);
    stamp({ inputs: undefined });
    expect(bundleIsCurrent(root, dist)).toBe(false);
  });
});
