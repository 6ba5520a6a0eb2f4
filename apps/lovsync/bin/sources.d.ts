/** The newest modification time (ms) of `files` under `root`, or null when one is missing. */
export function newestMtime(root: string, files: readonly string[]): number | null;
/** True when dist/stamp.json exists, was built for this root, and no input changed since. */
export function bundleIsCurrent(root: string, dist: string): boolean;
