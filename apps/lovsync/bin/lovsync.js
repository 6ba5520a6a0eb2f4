#!/usr/bin/env node
// The `lovsync` command (`pnpm lovsync`). Runs the compiled bundle in apps/lovsync/dist (built by
// `pnpm install` and `pnpm build`) while it is current; otherwise, or with LOVSYNC_FROM_SOURCE=1,
// the TypeScript sources through tsx. Either way the code that runs is the code in the tree.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { bundleIsCurrent } from './sources.js';

// Memory (issue 15): what a lovsync process keeps alive is small (~25-45 MB of JS heap after a full
// GC in a cold run of 250 MB of XML: the jobs in flight, pages of rows), but V8 lets the old
// generation grow up to 4x its live size before the next full GC, so peak RSS followed the largest
// transient live size seen in a run, not what is needed. A growing factor of 1.5 keeps the heap
// within 1.5x of what is live (plus the young generation); full GCs of such a heap take tens of ms.
// It bounds nothing: a large document still gets all the heap it needs (the usual heap limit).
// `node --heap-growing-percent=N apps/lovsync/bin/lovsync.js` still chooses another factor.
if (!process.execArgv.some((a) => a.startsWith('--heap-growing-percent'))) {
  setFlagsFromString('--heap-growing-percent=50');
}

const app = dirname(dirname(fileURLToPath(import.meta.url)));
const root = dirname(dirname(app));
const dist = join(app, 'dist');

// eslint-disable-next-line no-restricted-properties -- chosen before any code (and config) loads
if (process.env.LOVSYNC_FROM_SOURCE !== '1' && bundleIsCurrent(root, dist)) {
  await import(join(dist, 'main.mjs'));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
