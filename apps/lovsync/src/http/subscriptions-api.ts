import express, { Router } from 'express';
import type pg from 'pg';
import { z, ZodError } from 'zod';
import {
  createSubscription,
  getSubscription,
  listChunkChanges,
  listDeliveries,
  listSubscriptions,
  parseChunkCursor,
  removeSubscription,
  subscriptionInputSchema,
} from '@lovsync/shared/db';
import { HttpError, parseInput } from './http-error.ts';

const idSchema = z
  .string()
  .regex(/^[1-9]\d{0,9}$/, 'must be a positive whole number')
  .transform(Number)
  .pipe(z.number().max(2_147_483_647, 'is out of range'));

const limit = (def: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,6}$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(1).max(max))
    .default(def);

const deliveriesQuery = z
  .object({ status: z.enum(['pending', 'succeeded', 'dead']).optional(), limit: limit(100, 1000) })
  .strict();
const chunkQuery = z.object({ since: z.string().max(40).default('0'), limit: limit(1000, 10_000) }).strict();

/**
 * /api/subscriptions (webhooks: list, create, delete, delivery log) and /api/chunks/changes (the
 * chunk change stream), mounted under /api behind the same auth and host guard as the rest of it.
 */
export function subscriptionsApiRouter(deps: { pool: pg.Pool }): Router {
  const { pool } = deps;
  const router = Router();

  router.get('/subscriptions', async (_req, res) => {
    res.json({ items: await listSubscriptions(pool) });
  });

  router.post('/subscriptions', express.json({ limit: '64kb', strict: true }), async (req, res) => {
    if (!/^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '')) {
      throw new HttpError(415, 'send Content-Type: application/json');
    }
    const input = parseInput(subscriptionInputSchema, req.body ?? {}, 'subscription');
    try {
      res.status(201).json(await createSubscription(pool, input));
    } catch (err) {
      if (err instanceof ZodError)
        throw new HttpError(400, `invalid subscription: ${err.issues[0]?.message}`);
      throw err;
    }
  });

  router.get('/subscriptions/:id', async (req, res) => {
    const id = parseInput(idSchema, req.params.id, 'subscription id');
    const sub = await getSubscription(pool, id);
    if (!sub) throw new HttpError(404, `subscription ${id} not found`);
    res.json(sub);
  });

  router.delete('/subscriptions/:id', async (req, res) => {
    const id = parseInput(idSchema, req.params.id, 'subscription id');
    if (!(await removeSubscription(pool, id))) throw new HttpError(404, `subscription ${id} not found`);
    res.status(204).end();
  });

  router.get('/subscriptions/:id/deliveries', async (req, res) => {
    const id = parseInput(idSchema, req.params.id, 'subscription id');
    const q = parseInput(deliveriesQuery, req.query, 'query');
    if (!(await getSubscription(pool, id))) throw new HttpError(404, `subscription ${id} not found`);
    res.json({ items: await listDeliveries(pool, { subscriptionId: id, status: q.status, limit: q.limit }) });
  });

  router.get('/chunks/changes', async (req, res) => {
    const q = parseInput(chunkQuery, req.query, 'query');
    let cursor;
    try {
      cursor = parseChunkCursor(q.since);
    } catch (err) {
      throw new HttpError(400, (err as Error).message);
    }
    res.json(await listChunkChanges(pool, { cursor, limit: q.limit }));
  });

  return router;
}
