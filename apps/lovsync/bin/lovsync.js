#!/usr/bin/env node
// The `lovsync` command (`pnpm lovsync`). Runs the compiled bundle in apps/lovsync/dist (built by
// `pnpm install` and `pnpm build`) while it is current; otherwise, or with LOVSYNC_FROM_SOURCE=1,
// the TypeScript sources through tsx. Either way the code that runs is the code in the tree.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleIsCurrent } from './sources.js';

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
