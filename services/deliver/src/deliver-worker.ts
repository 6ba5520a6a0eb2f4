import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Worker } from 'bullmq';
import type { ServiceContext } from '@lovsync/shared/context';
import { recordDeliveryAttempt } from '@lovsync/shared/db';
import { deliverQueue, type DeliverJobData } from '@lovsync/shared/queues';
import { createQueueWorker } from '@lovsync/shared/queues/worker';
import { dispatch, enqueueHeads } from './dispatch.ts';
import { DELIVERY_HEADER, SIGNATURE_HEADER, signatureHeader } from './signature.ts';

export type DeliverOutcome =
  | { outcome: 'succeeded'; status: number }
  | { outcome: 'dead'; error: string }
  | { outcome: 'skipped'; reason: string };

interface DeliveryToSend {
  delivery_id: string;
  subscription_id: number;
  run_id: number;
  batch: number;
  batches: number;
  event_ids: string[];
  status: string;
  url: string;
  secret: string;
  earlier_pending: boolean;
}

/** The JSON body of one delivery: its id, where it belongs, and its events in outbox order. */
async function buildBody(ctx: ServiceContext, d: DeliveryToSend): Promise<string> {
  const events = await ctx.database.pool.query<{ id: string; payload: Record<string, unknown> }>(
    'SELECT id, payload FROM outbox WHERE id = ANY($1::bigint[]) ORDER BY id',
    [d.event_ids],
  );
  return JSON.stringify({
    deliveryId: d.delivery_id,
    subscriptionId: d.subscription_id,
    runId: d.run_id,
    batch: d.batch,
    batches: d.batches,
    events: events.rows.map((e) => ({ eventId: Number(e.id), ...e.payload })),
  });
}

/**
 * One POST with a hard deadline (DELIVERY_TIMEOUT_SECONDS for connect, headers and body; the
 * socket is destroyed when it passes) on a fresh connection; redirects are not followed (a 3xx is
 * a failed attempt); at most 4 KiB of the answer are read.
 */
function post(
  ctx: ServiceContext,
  d: DeliveryToSend,
  body: string,
): Promise<{ ok: boolean; status: number | null; error: string | null }> {
  const url = new URL(d.url);
  const payload = Buffer.from(body);
  const timeoutMs = ctx.config.DELIVERY_TIMEOUT_SECONDS * 1000;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (r: { ok: boolean; status: number | null; error: string | null }) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      req.destroy();
      resolve(r);
    };
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(
      url,
      {
        method: 'POST',
        agent: false,
        headers: {
          'content-type': 'application/json',
          'content-length': payload.length,
          'user-agent': 'lovsync-webhooks/1',
          [DELIVERY_HEADER]: d.delivery_id,
          [SIGNATURE_HEADER]: signatureHeader(d.secret, payload, Math.floor(Date.now() / 1000)),
        },
      },
      (res) => {
        const status = res.statusCode ?? 0;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < 4096) chunks.push(c);
          size += c.length;
        });
        res.on('error', (err) => finish({ ok: false, status, error: err.message }));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8').slice(0, 300);
          const ok = status >= 200 && status < 300;
          finish({ ok, status, error: ok ? null : `HTTP ${status}${text ? `: ${text}` : ''}` });
        });
      },
    );
    const deadline = setTimeout(
      () => finish({ ok: false, status: null, error: `no answer within ${timeoutMs / 1000} s` }),
      timeoutMs,
    );
    req.on('error', (err: Error & { code?: string }) =>
      finish({ ok: false, status: null, error: err.code ?? err.message }),
    );
    req.end(payload);
  });
}

/**
 * Sends one delivery. Success (2xx) and the last failed attempt (dead letter) are final: the row is
 * updated and the subscription's next delivery queued. Any other failure is recorded on the row
 * and thrown, so BullMQ retries it after deliveryBackoff. A delivery whose subscription still has
 * an earlier pending delivery is left for later (only heads are sent: in-order per subscription).
 */
export async function processDelivery(
  ctx: ServiceContext,
  data: DeliverJobData,
  attempt: { made: number; max: number },
): Promise<DeliverOutcome> {
  const { pool } = ctx.database;
  const r = await pool.query<DeliveryToSend>(
    `SELECT d.delivery_id, d.subscription_id, d.run_id, d.batch, d.batches, d.event_ids, d.status, s.url, s.secret,
       EXISTS (SELECT 1 FROM deliveries e WHERE e.subscription_id = d.subscription_id AND e.status = 'pending'
               AND (e.run_id, e.batch) < (d.run_id, d.batch)) AS earlier_pending
     FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id WHERE d.id = $1`,
    [data.deliveryRowId],
  );
  const d = r.rows[0];
  if (!d) return { outcome: 'skipped', reason: 'delivery or subscription gone' };
  if (d.status !== 'pending') {
    await enqueueHeads(ctx, d.subscription_id);
    return { outcome: 'skipped', reason: `already ${d.status}` };
  }
  if (d.earlier_pending) {
    await enqueueHeads(ctx, d.subscription_id);
    return { outcome: 'skipped', reason: 'an earlier delivery is pending' };
  }
  const body = await buildBody(ctx, d);
  const result = await post(ctx, d, body);
  const final = result.ok || attempt.made + 1 >= attempt.max;
  await recordDeliveryAttempt(pool, {
    deliveryRowId: data.deliveryRowId,
    responseCode: result.status,
    error: result.error,
    ok: result.ok,
    final,
  });
  if (!final) throw new Error(`delivery ${d.delivery_id} failed: ${result.error}`);
  await enqueueHeads(ctx, d.subscription_id);
  return result.ok
    ? { outcome: 'succeeded', status: result.status! }
    : { outcome: 'dead', error: result.error ?? 'failed' };
}

/**
 * The deliver worker (queue `deliver`, role `deliver`): DELIVERY_CONCURRENCY POSTs at once, one
 * subscription's deliveries strictly one after another, retries with capped exponential backoff
 * (DELIVERY_BACKOFF_BASE_MS doubling up to DELIVERY_BACKOFF_MAX_MS) for DELIVERY_RETRY_SECONDS.
 * With `poll` (default) it also dispatches finished runs every DELIVERY_POLL_MS.
 */
export function createDeliverWorker(
  ctx: ServiceContext,
  opts: { poll?: boolean } = {},
): Worker<DeliverJobData, DeliverOutcome> & { stopPolling(): void } {
  const worker = createQueueWorker<DeliverJobData, DeliverOutcome>(
    ctx,
    deliverQueue,
    async (data, job, { log }) => {
      const out = await processDelivery(ctx, data, { made: job.attemptsMade, max: job.opts.attempts ?? 1 });
      if (out.outcome === 'dead') log.warn({ err: out.error }, 'delivery dead-lettered');
      else log.debug(out, 'delivery done');
      return out;
    },
  );

  const log = ctx.log.child({ service: deliverQueue.service, queue: deliverQueue.name });
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  const tick = async () => {
    if (running) return;
    running = true;
    try {
      const r = await dispatch(ctx);
      if (r.created || r.queued) log.info(r, 'deliveries dispatched');
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'dispatch failed; retried at the next poll');
    } finally {
      running = false;
    }
  };
  if (opts.poll ?? true) {
    void tick();
    timer = setInterval(() => void tick(), ctx.config.DELIVERY_POLL_MS);
    timer.unref();
  }
  const stopPolling = () => clearInterval(timer);
  worker.on('closing', stopPolling);
  return Object.assign(worker, { stopPolling });
}
