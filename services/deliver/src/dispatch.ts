import { randomUUID } from 'node:crypto';
import type { ServiceContext } from '@lovsync/shared/context';
import { withTransaction } from '@lovsync/shared/db';
import { enqueueDelivery } from '@lovsync/shared/queues';

interface SubscriptionFilter {
  id: number;
  filter_kind: 'all' | 'documents' | 'legal_area' | 'ministry';
  filter_values: string[];
  events: string[];
  dispatched_through: string;
}

/** The SQL condition selecting a subscription's events of one run (outbox alias o). */
const MATCH = `o.run_id = $1 AND o.event = ANY($2::text[]) AND (
  o.event = 'run.finished' OR $3 = 'all'
  OR ($3 = 'documents' AND o.document_id = ANY($4::text[]))
  OR ($3 = 'legal_area' AND lovsync_area_slugs(o.legal_areas) && $4::text[])
  OR ($3 = 'ministry' AND ARRAY(SELECT lovsync_slug(m) FROM unnest(o.ministries) m) && $4::text[]))`;

/**
 * Turns finished runs into deliveries: for every subscription and every run whose run.finished
 * event it has not been dispatched yet (in run order), the run's matching events in batches of
 * DELIVERY_BATCH_EVENTS, one deliveries row (with a fresh delivery id) per batch; a run with no
 * matching event gives no delivery. Serialised across deliver replicas by an advisory lock; the
 * (subscription, run, batch) key makes a repeat a no-op. Then makes sure the oldest pending
 * delivery of each subscription has its job (only the head is ever queued: in-order delivery).
 */
export async function dispatch(ctx: ServiceContext): Promise<{ created: number; queued: number }> {
  const batchSize = ctx.config.DELIVERY_BATCH_EVENTS;
  const created = await withTransaction(ctx.database.pool, async (c) => {
    await c.query(`SELECT pg_advisory_xact_lock(hashtextextended('lovsync-dispatch', 7416))`);
    const subs = await c.query<SubscriptionFilter>(
      `SELECT s.id, s.filter_kind, s.filter_values, s.events, s.dispatched_through FROM subscriptions s
       WHERE EXISTS (SELECT 1 FROM outbox o WHERE o.event = 'run.finished' AND o.id > s.dispatched_through)`,
    );
    let n = 0;
    for (const s of subs.rows) {
      const runs = await c.query<{ id: string; run_id: number }>(
        `SELECT id, run_id FROM outbox WHERE event = 'run.finished' AND id > $1 ORDER BY id`,
        [s.dispatched_through],
      );
      for (const run of runs.rows) {
        const events = await c.query<{ id: string }>(
          `SELECT o.id FROM outbox o WHERE ${MATCH} ORDER BY o.id`,
          [run.run_id, s.events, s.filter_kind, s.filter_values],
        );
        const ids = events.rows.map((r) => Number(r.id));
        const batches = Math.ceil(ids.length / batchSize);
        for (let b = 0; b < batches; b++) {
          const r = await c.query(
            `INSERT INTO deliveries (delivery_id, subscription_id, run_id, batch, batches, event_ids)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (subscription_id, run_id, batch) DO NOTHING`,
            [randomUUID(), s.id, run.run_id, b + 1, batches, ids.slice(b * batchSize, (b + 1) * batchSize)],
          );
          n += r.rowCount ?? 0;
        }
        await c.query('UPDATE subscriptions SET dispatched_through = $2 WHERE id = $1', [s.id, run.id]);
      }
    }
    return n;
  });
  const queued = await enqueueHeads(ctx);
  return { created, queued };
}

/**
 * Queues the oldest pending delivery of each subscription (or of one), unless its job is already
 * there (enqueueDelivery, the deliver queue's producer).
 */
export async function enqueueHeads(ctx: ServiceContext, subscriptionId?: number): Promise<number> {
  const heads = await ctx.database.pool.query<{ id: string; subscription_id: number; run_id: number }>(
    `SELECT DISTINCT ON (subscription_id) id, subscription_id, run_id FROM deliveries
     WHERE status = 'pending' AND ($1::int IS NULL OR subscription_id = $1)
     ORDER BY subscription_id, run_id, batch`,
    [subscriptionId ?? null],
  );
  let queued = 0;
  for (const h of heads.rows) {
    const added = await enqueueDelivery(
      ctx.queues,
      { deliveryRowId: Number(h.id), subscriptionId: h.subscription_id, runId: h.run_id },
      ctx.config,
    );
    if (!added) continue;
    ctx.log.debug(added, 'delivery queued');
    queued++;
  }
  return queued;
}
