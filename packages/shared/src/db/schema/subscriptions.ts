import {
  bigint,
  bigserial,
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  serial,
  text,
  timestamp,
  unique,
  uuid,
} from 'drizzle-orm/pg-core';
import { sql } from 'drizzle-orm';

/**
 * Change events of every run (migration 0012): document.* and section.* rows written by the parse
 * transaction that made the change (lovsync_record_changes), run.finished by a trigger in the
 * transaction that ends the run. (run_id, event_key) is unique: a redelivered job cannot add one twice.
 */
export const outbox = pgTable(
  'outbox',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    runId: integer('run_id').notNull(),
    eventKey: text('event_key').notNull(),
    event: text('event').notNull(),
    documentId: text('document_id'),
    sectionKey: text('section_key'),
    legalAreas: text('legal_areas')
      .array()
      .notNull()
      .default(sql`'{}'`),
    ministries: text('ministries')
      .array()
      .notNull()
      .default(sql`'{}'`),
    payload: jsonb('payload').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    unique('outbox_run_event_key').on(t.runId, t.eventKey),
    index('outbox_run_idx').on(t.runId, t.id),
    index('outbox_document_idx').on(t.documentId, t.runId),
    index('outbox_run_finished_idx')
      .on(t.id)
      .where(sql`${t.event} = 'run.finished'`),
  ],
);

/** Per run: chunks added / modified / removed against the state before the run (content_hash). */
export const chunkChanges = pgTable(
  'chunk_changes',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    runId: integer('run_id').notNull(),
    documentId: text('document_id').notNull(),
    chunkId: text('chunk_id').notNull(),
    sectionKey: text('section_key').notNull(),
    change: text('change', { enum: ['added', 'modified', 'removed'] }).notNull(),
    oldHash: text('old_hash'),
    newHash: text('new_hash'),
    oldWords: text('old_words'),
    editorialOnly: boolean('editorial_only').notNull().default(false),
  },
  (t) => [
    unique('chunk_changes_run_chunk').on(t.runId, t.chunkId),
    index('chunk_changes_run_document_idx').on(t.runId, t.documentId),
  ],
);

export const subscriptions = pgTable('subscriptions', {
  id: serial('id').primaryKey(),
  url: text('url').notNull(),
  secret: text('secret').notNull(),
  filterKind: text('filter_kind', { enum: ['all', 'documents', 'legal_area', 'ministry'] }).notNull(),
  filterValues: text('filter_values')
    .array()
    .notNull()
    .default(sql`'{}'`),
  events: text('events').array().notNull(),
  /** The outbox id of the last run.finished event whose deliveries were created for this subscription. */
  dispatchedThrough: bigint('dispatched_through', { mode: 'number' }).notNull().default(0),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/** The delivery log: one row per POST batch (subscription, run, batch), with its outcome. */
export const deliveries = pgTable(
  'deliveries',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    deliveryId: uuid('delivery_id').notNull().unique(),
    subscriptionId: integer('subscription_id')
      .notNull()
      .references(() => subscriptions.id, { onDelete: 'cascade' }),
    runId: integer('run_id').notNull(),
    batch: integer('batch').notNull(),
    batches: integer('batches').notNull(),
    eventIds: bigint('event_ids', { mode: 'number' }).array().notNull(),
    status: text('status', { enum: ['pending', 'succeeded', 'dead'] })
      .notNull()
      .default('pending'),
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
    responseCode: integer('response_code'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    lastAttemptAt: timestamp('last_attempt_at', { withTimezone: true }),
    deliveredAt: timestamp('delivered_at', { withTimezone: true }),
  },
  (t) => [
    unique('deliveries_sub_run_batch').on(t.subscriptionId, t.runId, t.batch),
    index('deliveries_pending_idx')
      .on(t.subscriptionId, t.id)
      .where(sql`${t.status} = 'pending'`),
  ],
);
