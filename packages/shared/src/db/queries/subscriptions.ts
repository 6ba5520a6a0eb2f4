import type pg from 'pg';
import { z } from 'zod';
import { EVENT_TYPES, type EventType } from '../events.ts';

export { EVENT_TYPES, type EventType };

type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

/** Events a subscription gets unless it names them: all of them with --all, else the document and section events. */
export function defaultEvents(filterKind: FilterKind): EventType[] {
  return filterKind === 'all' ? [...EVENT_TYPES] : EVENT_TYPES.filter((e) => e !== 'run.finished');
}

export type FilterKind = 'all' | 'documents' | 'legal_area' | 'ministry';

/** Lower case, æ ø å spelt out, anything but a-z 0-9 as '-' (the same as SQL lovsync_slug). */
export function slugify(v: string): string {
  return v
    .toLowerCase()
    .replace(/æ/g, 'ae')
    .replace(/ø/g, 'o')
    .replace(/å/g, 'a')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

const DOCUMENT_ID = /^[\p{L}\p{N}._§+()@-]+(\/[\p{L}\p{N}._§+()@-]+)*$/u;

/**
 * A receiver URL: http(s), no credentials in it, no fragment, at most 2,000 characters. Receivers on
 * loopback or private addresses are allowed (an indexer next to lovsync is the common case).
 */
export const webhookUrlSchema = z
  .string()
  .trim()
  .max(2000, 'is too long (2,000 characters at most)')
  .refine((v) => {
    try {
      const u = new URL(v);
      return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
    } catch {
      return false;
    }
  }, 'must be an http:// or https:// URL')
  .refine((v) => {
    try {
      const u = new URL(v);
      return u.username === '' && u.password === '' && u.hash === '';
    } catch {
      return true;
    }
  }, 'must not contain credentials or a #fragment (the signature authenticates lovsync)');

export const subscriptionInputSchema = z
  .object({
    url: webhookUrlSchema,
    secret: z
      .string()
      .min(16, 'must be at least 16 characters (it keys the HMAC-SHA256 signature)')
      .max(512, 'is too long'),
    documents: z
      .array(
        z
          .string()
          .max(300, 'is too long')
          .regex(DOCUMENT_ID, 'is not a document id such as NL/lov/1999-03-26-17'),
      )
      .max(1000, 'names too many documents (1,000 at most)')
      .optional(),
    legalArea: z.string().trim().min(1).max(200).optional(),
    ministry: z.string().trim().min(1).max(200).optional(),
    all: z.boolean().optional(),
    events: z.array(z.enum(EVENT_TYPES)).min(1).max(EVENT_TYPES.length).optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    const filters = [v.documents?.length ? 1 : 0, v.legalArea ? 1 : 0, v.ministry ? 1 : 0, v.all ? 1 : 0];
    const n = filters.reduce((a, b) => a + b, 0);
    if (n !== 1)
      ctx.addIssue({
        code: 'custom',
        path: ['filter'],
        message: `give exactly one of documents, legalArea, ministry or all (got ${n})`,
      });
    for (const [k, val] of [
      ['legalArea', v.legalArea],
      ['ministry', v.ministry],
    ] as const)
      if (val !== undefined && slugify(val) === '')
        ctx.addIssue({ code: 'custom', path: [k], message: 'has no letters or digits' });
  });
export type SubscriptionInput = z.input<typeof subscriptionInputSchema>;

export interface SubscriptionRow {
  id: number;
  url: string;
  filterKind: FilterKind;
  filterValues: string[];
  events: EventType[];
  createdAt: Date;
  /** Deliveries by status. */
  deliveries: { pending: number; succeeded: number; dead: number };
}

/** Validates and stores a subscription; it gets the events of runs that finish from now on. */
export async function createSubscription(db: Queryable, input: unknown): Promise<SubscriptionRow> {
  const v = subscriptionInputSchema.parse(input);
  const kind: FilterKind = v.all
    ? 'all'
    : v.documents?.length
      ? 'documents'
      : v.legalArea
        ? 'legal_area'
        : 'ministry';
  const values =
    kind === 'documents'
      ? [...new Set(v.documents)]
      : kind === 'legal_area'
        ? [slugify(v.legalArea!)]
        : kind === 'ministry'
          ? [slugify(v.ministry!)]
          : [];
  const events = v.events ? [...new Set(v.events)] : defaultEvents(kind);
  const r = await db.query<{ id: number }>(
    `INSERT INTO subscriptions (url, secret, filter_kind, filter_values, events, dispatched_through)
     VALUES ($1, $2, $3, $4, $5, (SELECT COALESCE(max(id), 0) FROM outbox WHERE event = 'run.finished'))
     RETURNING id`,
    [v.url, v.secret, kind, values, events],
  );
  return (await getSubscription(db, r.rows[0]!.id))!;
}

const SUBSCRIPTION_COLUMNS = `s.id, s.url, s.filter_kind AS "filterKind", s.filter_values AS "filterValues", s.events,
  s.created_at AS "createdAt",
  json_build_object(
    'pending', (SELECT count(*) FROM deliveries d WHERE d.subscription_id = s.id AND d.status = 'pending'),
    'succeeded', (SELECT count(*) FROM deliveries d WHERE d.subscription_id = s.id AND d.status = 'succeeded'),
    'dead', (SELECT count(*) FROM deliveries d WHERE d.subscription_id = s.id AND d.status = 'dead')
  ) AS deliveries`;

export async function getSubscription(db: Queryable, id: number): Promise<SubscriptionRow | undefined> {
  const r = await db.query<SubscriptionRow>(
    `SELECT ${SUBSCRIPTION_COLUMNS} FROM subscriptions s WHERE s.id = $1`,
    [id],
  );
  return r.rows[0];
}

/** Every subscription; secrets are never returned. */
export async function listSubscriptions(db: Queryable): Promise<SubscriptionRow[]> {
  return (
    await db.query<SubscriptionRow>(`SELECT ${SUBSCRIPTION_COLUMNS} FROM subscriptions s ORDER BY s.id`)
  ).rows;
}

/** Deletes a subscription and its delivery log; false when there was none. */
export async function removeSubscription(db: Queryable, id: number): Promise<boolean> {
  return ((await db.query('DELETE FROM subscriptions WHERE id = $1', [id])).rowCount ?? 0) > 0;
}

export interface DeliveryRow {
  id: number;
  deliveryId: string;
  subscriptionId: number;
  runId: number;
  batch: number;
  batches: number;
  events: number;
  status: 'pending' | 'succeeded' | 'dead';
  attempts: number;
  lastError: string | null;
  responseCode: number | null;
  createdAt: Date;
  lastAttemptAt: Date | null;
  deliveredAt: Date | null;
}

/** The delivery log, newest first. */
export async function listDeliveries(
  db: Queryable,
  p: { subscriptionId?: number; status?: DeliveryRow['status']; limit: number },
): Promise<DeliveryRow[]> {
  const r = await db.query<DeliveryRow>(
    `SELECT id, delivery_id AS "deliveryId", subscription_id AS "subscriptionId", run_id AS "runId", batch, batches,
       cardinality(event_ids) AS events, status, attempts, last_error AS "lastError", response_code AS "responseCode",
       created_at AS "createdAt", last_attempt_at AS "lastAttemptAt", delivered_at AS "deliveredAt"
     FROM deliveries WHERE ($1::int IS NULL OR subscription_id = $1) AND ($2::text IS NULL OR status = $2)
     ORDER BY id DESC LIMIT $3`,
    [p.subscriptionId ?? null, p.status ?? null, p.limit],
  );
  return r.rows;
}
