import { z } from 'zod';

export const DELIVER_QUEUE = 'deliver';

/** One webhook POST: a deliveries row (subscription, run, batch). */
export const deliverJobSchema = z.object({
  deliveryRowId: z.number().int().positive(),
  subscriptionId: z.number().int().positive(),
  runId: z.number().int().positive(),
});
export type DeliverJobData = z.infer<typeof deliverJobSchema>;

/** `deliver-<deliveries.id>`: one job per delivery row; BullMQ ignores a second add while it exists. */
export function deliverJobId(deliveryRowId: number): string {
  return `deliver-${deliveryRowId}`;
}

/** The retry delay before attempt `attemptsMade + 1`: base * 2^(attemptsMade - 1), capped at max. */
export function deliveryBackoff(attemptsMade: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, Math.min(attemptsMade - 1, 40)));
}

/** Attempts needed so that the retries span at least `windowSeconds` with deliveryBackoff. */
export function deliveryAttempts(windowSeconds: number, baseMs: number, maxMs: number): number {
  let attempts = 1;
  let spent = 0;
  while (spent < windowSeconds * 1000 && attempts < 10_000) {
    spent += deliveryBackoff(attempts, baseMs, maxMs);
    attempts++;
  }
  return attempts;
}
