/**
 * System tools some tests need and a fresh machine may lack. A test that cannot run for want of one
 * is skipped with a note starting MISSING_TOOL, and missing-tools-reporter.ts (beside this file) lists
 * every such test loudly after vitest's summary: never a silent skip. `bash .ci/run` installs them.
 * Tools are looked up on PATH (as the code under test would run them), so hiding one from PATH is
 * enough to see what a machine without it does.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export const MISSING_TOOL = 'missing tool:';

/** How to get each optional tool on Debian (what .ci/run does). */
export const OPTIONAL_TOOLS = {
  lbzip2: 'apt-get install -y lbzip2',
  bzip2: 'apt-get install -y bzip2',
  chromium: 'apt-get install -y chromium',
  'docker-compose': 'apt-get install -y docker-compose',
  kubectl: 'a kubectl binary on PATH (Kubernetes client)',
  script: 'apt-get install -y bsdutils (util-linux script)',
} as const;

export type OptionalTool = keyof typeof OPTIONAL_TOOLS;

/** The absolute path of an executable named `name` on PATH, or null. */
export function findTool(name: string, path = process.env.PATH ?? ''): string | null {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return null;
}

/** The skip note for a missing tool (what the reporter groups by). */
export function missingToolNote(tool: OptionalTool): string {
  return `${MISSING_TOOL} ${tool} (${OPTIONAL_TOOLS[tool]})`;
}

/**
 * Inside a test or a beforeEach: the tool's path, or the test is skipped with a note the summary
 * reports loudly.
 */
export function requireTool(ctx: { skip(note?: string): never }, tool: OptionalTool): string {
  const found = findTool(tool);
  if (!found) ctx.skip(missingToolNote(tool));
  return found!;
}
