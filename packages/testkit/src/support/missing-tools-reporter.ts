import type { Reporter, TestModule } from 'vitest/node';
import { MISSING_TOOL } from './optional-tools.ts';

/**
 * Prints, after vitest's own summary, every test that did not run because an optional tool is
 * missing on this machine, grouped by tool with the files concerned, and any other skipped test
 * count. A skip is never silent.
 */
export default class MissingToolsReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const byNote = new Map<string, { tests: number; files: Set<string> }>();
    let otherSkips = 0;
    for (const mod of testModules) {
      for (const test of mod.children.allTests()) {
        const r = test.result();
        if (r.state !== 'skipped') continue;
        if (r.note?.startsWith(MISSING_TOOL)) {
          const g = byNote.get(r.note) ?? { tests: 0, files: new Set<string>() };
          g.tests++;
          g.files.add(mod.relativeModuleId);
          byNote.set(r.note, g);
        } else otherSkips++;
      }
    }
    if (byNote.size === 0 && otherSkips === 0) return;
    const total = [...byNote.values()].reduce((a, g) => a + g.tests, 0);
    const lines = [''];
    if (total > 0) {
      lines.push(
        `!!! ${total} test${total === 1 ? '' : 's'} did NOT run: optional tool${byNote.size === 1 ? '' : 's'} missing on this machine !!!`,
      );
      for (const [note, g] of byNote)
        lines.push(
          `  - ${note.slice(MISSING_TOOL.length).trim()}: ${g.tests} test(s) in ${[...g.files].sort().join(', ')}`,
        );
      lines.push('  Install them (bash .ci/run does) to run the whole suite.');
    }
    if (otherSkips > 0) lines.push(`  ${otherSkips} other test(s) skipped (not for a missing tool).`);
    process.stdout.write(`${lines.join('\n')}\n\n`);
  }
}
