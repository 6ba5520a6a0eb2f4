import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  customType,
  index,
  integer,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';
import { syncRuns } from './runs.ts';

const bytea = customType<{ data: Buffer }>({ dataType: () => 'bytea' });

/** One row per archive (name = archive filename, e.g. gjeldende-lover.tar.bz2). */
export const datasets = pgTable('datasets', {
  name: text('name').primaryKey(),
  lastModified: timestamp('last_modified', { withTimezone: true, precision: 3 }),
  etag: text('etag'),
  archiveBytes: bigint('archive_bytes', { mode: 'number' }),
  fileCount: integer('file_count'),
  lastRunId: integer('last_run_id'),
  /** False once the dataset vanished from Lovdata's list (its files were marked removed). */
  listed: boolean('listed').notNull().default(true),
  /** Consecutive runs whose list omitted the dataset (migration 0005); reset when it is listed. */
  missingRuns: integer('missing_runs').notNull().default(0),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

/** The manifest a sync produced for one (run, dataset): staging input of the differ, deleted after the diff. */
export const manifestEntries = pgTable(
  'manifest_entries',
  {
    runId: integer('run_id').notNull(),
    dataset: text('dataset').notNull(),
    path: text('path').notNull(),
    hash: text('hash').notNull(),
    size: bigint('size', { mode: 'number' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.dataset, t.path] })],
);

/** Current file-level truth per dataset, with lovlig's status semantics. */
export const files = pgTable(
  'files',
  {
    dataset: text('dataset').notNull(),
    path: text('path').notNull(),
    hash: text('hash').notNull(),
    size: bigint('size', { mode: 'number' }).notNull(),
    status: text('status', { enum: ['added', 'modified', 'unchanged', 'removed'] }).notNull(),
    lastChanged: timestamp('last_changed', { withTimezone: true, precision: 3 }),
    lastRunId: integer('last_run_id'),
  },
  (t) => [
    primaryKey({ columns: [t.dataset, t.path] }),
    // No index on status: every diff flips the previous run's added/modified rows to unchanged, and
    // without an index on the column (and with fillfactor 80, see migration 0002) those are cheap
    // heap-only updates. Listing by status scans the table, which is fast at Lovdata's size.
    index('files_hash_idx').on(t.hash),
  ],
);

/** THE change table: one row per file that was added, modified or removed at a run. */
export const fileChanges = pgTable(
  'file_changes',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    runId: integer('run_id')
      .notNull()
      .references(() => syncRuns.id, { onDelete: 'cascade' }),
    dataset: text('dataset').notNull(),
    path: text('path').notNull(),
    /** `reparse`: not a file change but a `lovsync reparse` work item (old_hash = new_hash). */
    change: text('change', { enum: ['added', 'modified', 'removed', 'reparse'] }).notNull(),
    oldHash: text('old_hash'),
    newHash: text('new_hash'),
    oldSize: bigint('old_size', { mode: 'number' }),
    newSize: bigint('new_size', { mode: 'number' }),
    parseStatus: text('parse_status', { enum: ['pending', 'succeeded', 'failed'] })
      .notNull()
      .default('pending'),
    parseError: text('parse_error'),
    parsedAt: timestamp('parsed_at', { withTimezone: true }),
    /** The document the parsed file carries (migration 0007). */
    documentId: text('document_id'),
    /** `dataset/path` of another current file carrying the same document id (a dokid collision). */
    collision: text('collision'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('file_changes_run_file_uq').on(t.runId, t.dataset, t.path),
    index('file_changes_file_idx').on(t.dataset, t.path),
    index('file_changes_pending_idx')
      .on(t.runId)
      .where(sql`${t.parseStatus} = 'pending'`),
  ],
);

/** Content-addressed store of every file version (XXH3-128 hex). */
export const blobs = pgTable('blobs', {
  hash: text('hash').primaryKey(),
  size: bigint('size', { mode: 'number' }).notNull(),
  content: bytea('content').notNull(),
});

/** Which document (dokid) a parsed content hash carries: lets a removal know whether another file still carries it. */
export const blobDocuments = pgTable(
  'blob_documents',
  {
    hash: text('hash').primaryKey(),
    documentId: text('document_id').notNull(),
  },
  (t) => [index('blob_documents_document_idx').on(t.documentId)],
);
