/**
 * Waits for a quiet moment on a machine other sessions share: until the whole machine used less
 * than `maxBusyCores` over a `windowMs` window, or `maxWaitMs` passed. Bursty outside load (a test
 * file, a build) then less often lands in a timed step; steady load is only reported.
 */
import { machineCpuSeconds } from './cpu.ts';

export async function waitForQuiet(
  options: { maxBusyCores?: number; windowMs?: number; maxWaitMs?: number } = {},
): Promise<{ waitedMs: number; busyCores: number }> {
  const { maxBusyCores = 0.3, windowMs = 500, maxWaitMs = 10_000 } = options;
  const t0 = performance.now();
  for (;;) {
    const before = machineCpuSeconds();
    await new Promise((resolve) => setTimeout(resolve, windowMs));
    const busyCores = (machineCpuSeconds().busy - before.busy) / (windowMs / 1000);
    const waitedMs = performance.now() - t0;
    if (busyCores < maxBusyCores || waitedMs >= maxWaitMs) return { waitedMs, busyCores };
  }
}
