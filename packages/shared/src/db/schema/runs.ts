import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  pgView,
  primaryKey,
  serial,
  text,
  timestamp,
} from 'drizzle-orm/pg-core';

/** One row per sync cycle: what triggered it, how far it got, what it found and how parsing went. */
export const syncRuns = pgTable(
  'sync_runs',
  {
    id: serial('id').primaryKey(),
    trigger: text('trigger', { enum: ['schedule', 'poll', 'manual', 'api', 'reparse'] }).notNull(),
    status: text('status', { enum: ['running', 'succeeded', 'partial', 'failed'] })
      .notNull()
      .default('running'),
    force: boolean('force').notNull().default(false),
    datasetFilter: text('dataset_filter'),
    startedAt: timestamp('started_at', { withTimezone: true }).notNull().defaultNow(),
    /** Set when the sync phase has enqueued every diff job it will enqueue. */
    syncFinishedAt: timestamp('sync_finished_at', { withTimezone: true }),
    /** Written every few seconds by the live sync process (migration 0005). */
    syncHeartbeatAt: timestamp('sync_heartbeat_at', { withTimezone: true }).defaultNow(),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
    datasetsChecked: integer('datasets_checked').notNull().default(0),
    datasetsChanged: integer('datasets_changed').notNull().default(0),
    datasetsFailed: integer('datasets_failed').notNull().default(0),
    filesAdded: integer('files_added').notNull().default(0),
    filesModified: integer('files_modified').notNull().default(0),
    filesRemoved: integer('files_removed').notNull().default(0),
    filesUnchanged: integer('files_unchanged').notNull().default(0),
    parseTotal: integer('parse_total').notNull().default(0),
    parseSucceeded: integer('parse_succeeded').notNull().default(0),
    parseFailed: integer('parse_failed').notNull().default(0),
    entriesRefused: integer('entries_refused').notNull().default(0),
    bytesDownloaded: bigint('bytes_downloaded', { mode: 'number' }).notNull().default(0),
    error: text('error'),
  },
  (t) => [
    index('sync_runs_running_idx')
      .on(t.id)
      .where(sql`${t.status} = 'running'`),
  ],
);

/**
 * sync_runs as readers see it (migration 0009, a plain view, not managed by drizzle-kit): a run in
 * progress shows the counts committed so far (file_changes, run_datasets); a finished run its tally.
 */
export const syncRunsLive = pgView('sync_runs_live', {
  id: integer('id').notNull(),
  trigger: text('trigger', { enum: ['schedule', 'poll', 'manual', 'api'] }).notNull(),
  status: text('status', { enum: ['running', 'succeeded', 'partial', 'failed'] }).notNull(),
  force: boolean('force').notNull(),
  datasetFilter: text('dataset_filter'),
  startedAt: timestamp('started_at', { withTimezone: true }).notNull(),
  syncFinishedAt: timestamp('sync_finished_at', { withTimezone: true }),
  syncHeartbeatAt: timestamp('sync_heartbeat_at', { withTimezone: true }),
  finishedAt: timestamp('finished_at', { withTimezone: true }),
  datasetsChecked: integer('datasets_checked').notNull(),
  datasetsChanged: integer('datasets_changed').notNull(),
  datasetsFailed: integer('datasets_failed').notNull(),
  filesAdded: integer('files_added').notNull(),
  filesModified: integer('files_modified').notNull(),
  filesRemoved: integer('files_removed').notNull(),
  filesUnchanged: integer('files_unchanged').notNull(),
  parseTotal: integer('parse_total').notNull(),
  parseSucceeded: integer('parse_succeeded').notNull(),
  parseFailed: integer('parse_failed').notNull(),
  entriesRefused: integer('entries_refused').notNull(),
  bytesDownloaded: bigint('bytes_downloaded', { mode: 'number' }).notNull(),
  error: text('error'),
}).existing();

/** Per (run, dataset): the sync phase's outcome for that archive and the diff's progress. */
export const runDatasets = pgTable(
  'run_datasets',
  {
    runId: integer('run_id')
      .notNull()
      .references(() => syncRuns.id, { onDelete: 'cascade' }),
    dataset: text('dataset').notNull(),
    status: text('status', {
      enum: ['downloading', 'manifested', 'diffed', 'failed', 'unchanged'],
    }).notNull(),
    vanished: boolean('vanished').notNull().default(false),
    lastModified: timestamp('last_modified', { withTimezone: true, precision: 3 }),
    etag: text('etag'),
    archiveBytes: bigint('archive_bytes', { mode: 'number' }),
    fileCount: integer('file_count'),
    bytesDownloaded: bigint('bytes_downloaded', { mode: 'number' }).notNull().default(0),
    entriesRefused: integer('entries_refused').notNull().default(0),
    /** The first refused entries with their reasons (capped), for the operator. */
    refused: jsonb('refused').$type<{ path: string; reason: string }[]>(),
    timings: jsonb('timings').$type<Record<string, number>>(),
    error: text('error'),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.runId, t.dataset] }),
    index('run_datasets_dataset_idx').on(t.dataset, t.status),
  ],
);
