import { readFileSync } from 'node:fs';

/** The version in the repository's root package.json (found from this file, compiled or not). */
export function lovsyncVersion(): string {
  let dir = new URL('./', import.meta.url);
  for (let i = 0; i < 8; i++) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'lovsync' && pkg.version) return pkg.version;
    } catch {
      // not here: look one folder up
    }
    dir = new URL('../', dir);
  }
  return '0.0.0';
}
