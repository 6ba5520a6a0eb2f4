/**
 * The chaos script at the size CI uses: 3 parsers, 1 differ, 1 sync in separate processes; random
 * SIGKILLs with restarts, the run's Redis keys wiped and its Postgres connections terminated mid-run,
 * after the two crash windows of issue 17 (points 1 and 8; see chaos.ts).
 * Full size: `pnpm chaos --docs 3000 --kills 8 --restart-redis`.
 */
import { expect, it } from 'vitest';
import { runChaos } from './chaos.ts';

it('converges to the database of an uninterrupted run', async () => {
  const result = await runChaos({
    docs: 400,
    kills: 6,
    seed: Number(process.env.CHAOS_SEED ?? 11),
    log: (line) => process.stderr.write(`chaos: ${line}\n`),
  });
  expect(result.events.some((e) => e.startsWith('SIGKILL'))).toBe(true);
  expect(result.events.some((e) => e.includes('Redis'))).toBe(true);
  expect(result.events.some((e) => e.includes('Postgres connections'))).toBe(true);
  // The two crash windows of issue 17: points 1 and 8.
  expect(result.events.some((e) => /before its diff, with the sync SIGKILLed/.test(e))).toBe(true);
  expect(result.events.some((e) => /while run \d+'s sync downloads \(sync alive\)/.test(e))).toBe(true);
  expect(result.liveRunStatuses.length).toBeGreaterThan(0);
  expect(new Set(result.liveRunStatuses)).toEqual(new Set(['running']));
  expect(result.chaos).toEqual(result.reference);
}, 300_000);
