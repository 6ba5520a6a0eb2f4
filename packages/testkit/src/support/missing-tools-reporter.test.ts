import type { TestModule } from 'vitest/node';
import { afterEach, describe, expect, it, vi } from 'vitest';
import MissingToolsReporter from './missing-tools-reporter.ts';
import { findTool, missingToolNote } from './optional-tools.ts';

/** The part of vitest's TestModule the reporter reads. */
function mod(file: string, results: { state: string; note?: string }[]): TestModule {
  return {
    relativeModuleId: file,
    children: { allTests: () => results.map((r) => ({ result: () => r })) },
  } as unknown as TestModule;
}

afterEach(() => vi.restoreAllMocks());

describe('missing-tools reporter', () => {
  it('lists every test skipped for a missing tool, by tool with its files, after the summary', () => {
    const out: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
    new MissingToolsReporter().onTestRunEnd([
      mod('test/ops/dashboard.browser.test.ts', [
        { state: 'skipped', note: missingToolNote('chromium') },
        { state: 'skipped', note: missingToolNote('chromium') },
      ]),
      mod('test/sync/decoders.test.ts', [
        { state: 'passed' },
        { state: 'skipped', note: missingToolNote('lbzip2') },
        { state: 'skipped', note: 'only on Tuesdays' },
      ]),
    ]);
    expect(out.join('')).toBe(
      [
        '',
        '!!! 3 tests did NOT run: optional tools missing on this machine !!!',
        '  - chromium (apt-get install -y chromium): 2 test(s) in test/ops/dashboard.browser.test.ts',
        '  - lbzip2 (apt-get install -y lbzip2): 1 test(s) in test/sync/decoders.test.ts',
        '  Install them (bash .ci/run does) to run the whole suite.',
        '  1 other test(s) skipped (not for a missing tool).',
        '',
        '',
      ].join('\n'),
    );
  });

  it('says nothing when every test ran', () => {
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    new MissingToolsReporter().onTestRunEnd([mod('a.test.ts', [{ state: 'passed' }, { state: 'failed' }])]);
    expect(write).not.toHaveBeenCalled();
  });

  it('finds tools on PATH only', () => {
    expect(findTool('sh', '/nonexistent:/bin')).toBe('/bin/sh');
    expect(findTool('sh', '/nonexistent')).toBeNull();
  });
});
