import { defineConfig } from 'vitest/config';

/**
 * The suite in three vitest projects (README "Tests"):
 *   unit         no services needed: parser extraction, contracts, archive builder, decoders, renderer, manifests
 *   integration  real PostgreSQL + Redis, one database and key prefix per file (@lovsync/testkit/support/harness)
 *   slow         whole-system runs with processes killed, signalled or a browser: chaos, SIGKILL,
 *                SIGTERM/SIGINT drains, browser tests (*.browser.test.ts) and the whole real sample corpus
 *                (*.slow.test.ts)
 * `pnpm test` runs unit + integration (the everyday command, a few minutes on 2 cores);
 * `pnpm test:slow` the slow project; `pnpm test:all` (and CI, `bash .ci/run`) all three.
 */
export const SLOW = [
  'test/chaos/**/*.test.ts',
  'test/parser/kill.int.test.ts',
  'test/ops/shutdown.int.test.ts',
  'test/cli/interrupt.int.test.ts',
  'test/parser/kill-reparse.int.test.ts',
  '**/*.browser.test.ts',
  '**/*.slow.test.ts',
];
const ALL = ['apps/**/*.test.ts', 'packages/**/*.test.ts', 'services/**/*.test.ts', 'test/**/*.test.ts'];
const NOT = ['**/node_modules/**'];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Files run in parallel (each has its own database and key prefix): most of an integration
    // file's time is spent waiting on child processes, HTTP and Postgres, so 3 workers on 2 cores
    // finish the suite well before the serial time. `--maxWorkers=1` runs them one at a time.
    maxWorkers: 3,
    retry: 0,
    // After the summary: every test that could not run for want of an optional tool, loudly.
    reporters: ['default', './packages/testkit/src/support/missing-tools-reporter.ts'],
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ALL, exclude: [...NOT, '**/*.int.test.ts', ...SLOW] },
      },
      {
        extends: true,
        test: { name: 'integration', include: ['test/**/*.int.test.ts'], exclude: [...NOT, ...SLOW] },
      },
      // One file at a time: these kill, signal and time processes, and the corpus test fills both cores.
      { extends: true, test: { name: 'slow', include: SLOW, exclude: NOT, fileParallelism: false } },
    ],
  },
});
