import { check, date, integer, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';
import { sql } from 'drizzle-orm';
import { documents } from './documents.ts';

/**
 * One row per distinct version of a section (issue 13, migration 0008). Current at run N when
 * valid_from_run <= N < valid_to_run (NULL = still current). A CURRENT version's content columns
 * (kind .. text) are NULL: they are the `sections` row; closing a version copies them in. Read
 * through the view `section_versions_full`, which fills them either way.
 */
export const sectionVersions = pgTable(
  'section_versions',
  {
    documentId: text('document_id')
      .notNull()
      .references(() => documents.documentId, { onDelete: 'cascade' }),
    sectionKey: text('section_key').notNull(),
    validFromRun: integer('valid_from_run').notNull(),
    validToRun: integer('valid_to_run'),
    /** Published lastModified of the archive at valid_from_run / valid_to_run. */
    observedFrom: timestamp('observed_from', { withTimezone: true }).notNull(),
    observedTo: timestamp('observed_to', { withTimezone: true }),
    /**
     * first_seen: the first version lovsync saw (what came before is unknown); changed: observed
     * change of the published source; reparse: the source bytes are the same, only lovsync's
     * extraction of them changed (`lovsync reparse`, an extractor upgrade).
     */
    origin: text('origin', { enum: ['first_seen', 'changed', 'reparse'] }).notNull(),
    textHash: text('text_hash').notNull(),
    number: text('number'),
    title: text('title'),
    /** In-force date and amending act (refid) of this wording, from the § 's notes or the document. */
    inForce: date('in_force', { mode: 'string' }),
    amendedBy: text('amended_by'),
    inForceSource: text('in_force_source', { enum: ['note', 'document'] }),
    /** The raw note (one "Endret ved ... (ikr. ...)" entry, or the document's lastChangedBy). */
    changeNote: text('change_note'),
    kind: text('kind'),
    parentKey: text('parent_key'),
    headingPath: text('heading_path'),
    notes: text('notes'),
    ord: integer('ord'),
    text: text('text'),
  },
  (t) => [
    primaryKey({ name: 'section_versions_pkey', columns: [t.documentId, t.sectionKey, t.validFromRun] }),
    check('section_versions_range', sql`${t.validToRun} IS NULL OR ${t.validToRun} > ${t.validFromRun}`),
  ],
);

/** One row per distinct version of a document's metadata (title, lastChangedBy, lastChangeInForce, ...). */
export const documentVersions = pgTable(
  'document_versions',
  {
    documentId: text('document_id')
      .notNull()
      .references(() => documents.documentId, { onDelete: 'cascade' }),
    validFromRun: integer('valid_from_run').notNull(),
    validToRun: integer('valid_to_run'),
    observedFrom: timestamp('observed_from', { withTimezone: true }).notNull(),
    observedTo: timestamp('observed_to', { withTimezone: true }),
    origin: text('origin', { enum: ['first_seen', 'changed', 'reparse'] }).notNull(),
    refid: text('refid').notNull(),
    title: text('title').notNull(),
    shortTitle: text('short_title'),
    language: text('language'),
    dateInForceRaw: text('date_in_force_raw'),
    lastChangeInForce: date('last_change_in_force', { mode: 'string' }),
    lastChangedBy: text('last_changed_by'),
    lastUpdated: text('last_updated'),
  },
  (t) => [
    primaryKey({ name: 'document_versions_pkey', columns: [t.documentId, t.validFromRun] }),
    check('document_versions_range', sql`${t.validToRun} IS NULL OR ${t.validToRun} > ${t.validFromRun}`),
  ],
);
