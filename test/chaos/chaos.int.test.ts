/**
 * The chaos script at the size CI uses: 3 parsers, 1 differ, 1 sync in separate processes; random
 * SIGKILLs with restarts, the run's Redis keys wiped and its Postgres connections terminated mid-run.
 * Full size: `pnpm chaos --docs 3000 --kills 8 --restart-redis`.
 */
import { expect, it } from 'vitest';
import { runChaos } from './chaos.ts';

it('converges to the database of an uninterrupted run', async () => {
  const result = await runChaos({ docs: 400, kills: 6, seed: Number(process.env.CHAOS_SEED ?? 11) });
  expect(result.events.some((e) => e.startsWith('SIGKILL'))).toBe(true);
  expect(result.events.some((e) => e.includes('Redis'))).toBe(true);
  expect(result.events.some((e) => e.includes('Postgres connections'))).toBe(true);
  expect(result.chaos).toEqual(result.reference);
}, 300_000);
