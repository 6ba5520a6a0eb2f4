/**
 * deliveries: one row per webhook POST batch (subscription, run, batch), inserted `pending` by the
 * dispatch (services/deliver/src/dispatch.ts). Its status:
 *
 *   pending --recordDeliveryAttempt (2xx)---------------------> succeeded
 *   pending --recordDeliveryAttempt (last attempt failed)------> dead
 *   pending --recordDeliveryAttempt (an attempt failed, retried)-> pending
 */
import type pg from 'pg';
import { storableText } from './runs.ts';

type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

export type DeliveryStatus = 'pending' | 'succeeded' | 'dead';

/**
 * Records one POST of a pending delivery: attempts, answer and error always; the status moves to
 * succeeded (`ok`) or, when `final` and not ok, to dead (dead letter); otherwise it stays pending.
 */
export async function recordDeliveryAttempt(
  db: Queryable,
  p: {
    deliveryRowId: number;
    responseCode: number | null;
    error: string | null;
    ok: boolean;
    final: boolean;
  },
): Promise<void> {
  await db.query(
    `UPDATE deliveries SET attempts = attempts + 1, last_attempt_at = now(), response_code = $2, last_error = $3,
       status = CASE WHEN $4 THEN 'succeeded' WHEN $5 THEN 'dead' ELSE status END,
       delivered_at = CASE WHEN $4 THEN now() ELSE delivered_at END
     WHERE id = $1 AND status = 'pending'`,
    [p.deliveryRowId, p.responseCode, p.error && storableText(p.error, 1000), p.ok, p.final],
  );
}
