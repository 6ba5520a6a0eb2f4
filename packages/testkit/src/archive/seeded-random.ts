/** Small deterministic pseudo-random helpers, so that generated corpora are reproducible by seed. */

/** mulberry32: a fast 32-bit PRNG returning floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a 32-bit hash of a string, to derive per-item seeds (e.g. from seed + path). */
export function hashString(value: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < value.length; i++) {
    hash ^= value.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** `count` distinct indices out of [0, total), chosen by a seeded partial Fisher-Yates shuffle, ascending. */
export function pickIndices(total: number, count: number, seed: number): number[] {
  if (count > total) throw new Error(`cannot pick ${count} of ${total}`);
  const indices = Uint32Array.from({ length: total }, (_, i) => i);
  const random = seededRandom(seed);
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(random() * (total - i));
    [indices[i], indices[j]] = [indices[j]!, indices[i]!];
  }
  return Array.from(indices.subarray(0, count)).sort((a, b) => a - b);
}
