import {
  bigserial,
  boolean,
  date,
  index,
  integer,
  pgTable,
  primaryKey,
  text,
  timestamp,
} from 'drizzle-orm/pg-core';
import { sql } from 'drizzle-orm';

export const documents = pgTable(
  'documents',
  {
    documentId: text('document_id').primaryKey(),
    refid: text('refid').notNull(),
    dataset: text('dataset').notNull(),
    path: text('path').notNull(),
    sourceHash: text('source_hash').notNull(),
    title: text('title').notNull(),
    shortTitle: text('short_title'),
    legacyId: text('legacy_id'),
    language: text('language'),
    ministries: text('ministries').array().notNull(),
    dateInForceRaw: text('date_in_force_raw'),
    dateInForce: date('date_in_force', { mode: 'string' }).array().notNull(),
    lastChangeInForce: date('last_change_in_force', { mode: 'string' }),
    lastChangedBy: text('last_changed_by'),
    changesDocuments: text('changes_documents').array().notNull(),
    basedOn: text('based_on').array().notNull(),
    legalAreas: text('legal_areas').array().notNull(),
    publishedAt: timestamp('published_at', { withTimezone: true }),
    journalNumber: text('journal_number'),
    lastUpdated: text('last_updated'),
    isAmendment: boolean('is_amendment').notNull().default(false),
    status: text('status', { enum: ['active', 'removed'] }).notNull(),
    lastRunId: integer('last_run_id').notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('documents_refid_idx').on(t.refid), index('documents_file_idx').on(t.dataset, t.path)],
);

export const sections = pgTable(
  'sections',
  {
    documentId: text('document_id')
      .notNull()
      .references(() => documents.documentId, { onDelete: 'cascade' }),
    sectionKey: text('section_key').notNull(),
    /** The raw data-name / URL segment the (normalised) section_key was made from; see README. */
    dataName: text('data_name'),
    parentKey: text('parent_key'),
    kind: text('kind', { enum: ['chapter', 'article', 'future_article', 'text_block'] }).notNull(),
    number: text('number'),
    title: text('title'),
    headingPath: text('heading_path').notNull(),
    text: text('text').notNull(),
    notes: text('notes'),
    repealed: boolean('repealed').notNull().default(false),
    textHash: text('text_hash').notNull(),
    ord: integer('ord').notNull(),
  },
  (t) => [primaryKey({ columns: [t.documentId, t.sectionKey] })],
);

export const chunks = pgTable(
  'chunks',
  {
    chunkId: text('chunk_id').primaryKey(),
    documentId: text('document_id')
      .notNull()
      .references(() => documents.documentId, { onDelete: 'cascade' }),
    sectionKey: text('section_key').notNull(),
    ord: integer('ord').notNull(),
    headingPath: text('heading_path').notNull(),
    text: text('text').notNull(),
    tokenCount: integer('token_count').notNull(),
    /** md5(heading_path || U+001F || text), generated (migration 0012): a chunk's content identity. */
    contentHash: text('content_hash').generatedAlwaysAs(sql`md5(heading_path || E'\\x1f' || text)`),
  },
  (t) => [index('chunks_document_idx').on(t.documentId, t.ord)],
);

export const crossReferences = pgTable(
  'cross_references',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    documentId: text('document_id')
      .notNull()
      .references(() => documents.documentId, { onDelete: 'cascade' }),
    sectionKey: text('section_key'),
    kind: text('kind', {
      enum: [
        'link',
        'amend_change',
        'amend_add',
        'amend_repeal',
        'amend_move',
        'based_on',
        'changes_document',
        'last_changed_by',
      ],
    }).notNull(),
    targetRefid: text('target_refid'),
    targetPart: text('target_part'),
    raw: text('raw').notNull(),
  },
  (t) => [
    index('cross_references_document_idx').on(t.documentId),
    index('cross_references_target_idx').on(t.targetRefid),
  ],
);

/** What changed inside a document at a run, per section_key, with old and new text. */
export const sectionChanges = pgTable(
  'section_changes',
  {
    runId: integer('run_id').notNull(),
    documentId: text('document_id').notNull(),
    sectionKey: text('section_key').notNull(),
    change: text('change', { enum: ['added', 'modified', 'removed'] }).notNull(),
    number: text('number'),
    headingPath: text('heading_path'),
    oldText: text('old_text'),
    newText: text('new_text'),
  },
  (t) => [
    primaryKey({ columns: [t.runId, t.documentId, t.sectionKey] }),
    index('section_changes_document_idx').on(t.documentId),
  ],
);

/** One row per document added, modified or removed at a run; kind separates amendments from editorial fixes. */
export const documentChanges = pgTable(
  'document_changes',
  {
    runId: integer('run_id').notNull(),
    documentId: text('document_id').notNull(),
    change: text('change', { enum: ['added', 'modified', 'removed'] }).notNull(),
    kind: text('kind', { enum: ['amendment', 'editorial'] }),
    dataset: text('dataset').notNull(),
    path: text('path').notNull(),
    sectionsAdded: integer('sections_added').notNull().default(0),
    sectionsModified: integer('sections_modified').notNull().default(0),
    sectionsRemoved: integer('sections_removed').notNull().default(0),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.runId, t.documentId] }),
    index('document_changes_document_idx').on(t.documentId),
  ],
);
