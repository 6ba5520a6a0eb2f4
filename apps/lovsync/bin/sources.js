/**
 * Whether apps/lovsync/dist is current: the bundle's stamp lists every source file it was built
 * from (and the lockfile); it is current when none of them changed or went missing since. Plain
 * JavaScript, no dependencies: bin/lovsync.js runs it before anything else loads.
 */
import { readFileSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';

/** The newest modification time (ms) of `files` under `root`, or null when one is missing. */
export function newestMtime(root, files) {
  let newest = 0;
  for (const f of files) {
    try {
      const m = statSync(isAbsolute(f) ? f : join(root, f)).mtimeMs;
      if (m > newest) newest = m;
    } catch {
      return null;
    }
  }
  return newest;
}

/** True when dist/stamp.json exists, was built for this root, and no input changed since. */
export function bundleIsCurrent(root, dist) {
  let stamp;
  try {
    stamp = JSON.parse(readFileSync(join(dist, 'stamp.json'), 'utf8'));
  } catch {
    return false;
  }
  if (stamp.root !== root || !Array.isArray(stamp.inputs)) return false;
  const newest = newestMtime(root, stamp.inputs);
  return newest !== null && newest <= stamp.newest;
}
