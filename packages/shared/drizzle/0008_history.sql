-- History (issue 13): one row per distinct version of every section and of every document's
-- metadata, with the run range in which it was current (valid_to_run NULL = current; a version is
-- current at run N when valid_from_run <= N < valid_to_run) and the published lastModified of the
-- archive it came from (observed_from .. observed_to). History starts at the first sync that parsed
-- the document: origin 'first_seen' means "current at valid_from_run, since when is unknown".
-- Storage: a CURRENT version's content columns (text, heading_path, notes, kind, parent_key, ord) are
-- NULL, because they are exactly the `sections` row; they are filled in when the version is closed.
-- So an unchanged section costs one small row, once (views *_full give the content either way).
CREATE TABLE "section_versions" (
	"document_id" text NOT NULL,
	"section_key" text NOT NULL,
	"valid_from_run" integer NOT NULL,
	"valid_to_run" integer,
	"observed_from" timestamp with time zone NOT NULL,
	"observed_to" timestamp with time zone,
	"origin" text NOT NULL,
	"text_hash" text NOT NULL,
	"number" text,
	"title" text,
	"in_force" date,
	"amended_by" text,
	"in_force_source" text,
	"change_note" text,
	"kind" text,
	"parent_key" text,
	"heading_path" text,
	"notes" text,
	"ord" integer,
	"text" text,
	CONSTRAINT "section_versions_document_fk" FOREIGN KEY ("document_id") REFERENCES "documents"("document_id") ON DELETE CASCADE,
	CONSTRAINT "section_versions_pkey" PRIMARY KEY("document_id","section_key","valid_from_run"),
	CONSTRAINT "section_versions_range" CHECK ("valid_to_run" IS NULL OR "valid_to_run" > "valid_from_run")
);
--> statement-breakpoint
ALTER TABLE "section_versions" ALTER COLUMN "text" SET COMPRESSION lz4;--> statement-breakpoint
ALTER TABLE "section_versions" ALTER COLUMN "notes" SET COMPRESSION lz4;--> statement-breakpoint
CREATE TABLE "document_versions" (
	"document_id" text NOT NULL,
	"valid_from_run" integer NOT NULL,
	"valid_to_run" integer,
	"observed_from" timestamp with time zone NOT NULL,
	"observed_to" timestamp with time zone,
	"origin" text NOT NULL,
	"refid" text NOT NULL,
	"title" text NOT NULL,
	"short_title" text,
	"language" text,
	"date_in_force_raw" text,
	"last_change_in_force" date,
	"last_changed_by" text,
	"last_updated" text,
	CONSTRAINT "document_versions_document_fk" FOREIGN KEY ("document_id") REFERENCES "documents"("document_id") ON DELETE CASCADE,
	CONSTRAINT "document_versions_pkey" PRIMARY KEY("document_id","valid_from_run"),
	CONSTRAINT "document_versions_range" CHECK ("valid_to_run" IS NULL OR "valid_to_run" > "valid_from_run")
);
--> statement-breakpoint
-- Databases synced before this migration: the current state becomes the first observed version,
-- valid from the run that last wrote the document (what came before it is unknown, not invented).
INSERT INTO "document_versions" ("document_id", "valid_from_run", "observed_from", "origin", "refid", "title",
	"short_title", "language", "date_in_force_raw", "last_change_in_force", "last_changed_by", "last_updated")
SELECT d.document_id, d.last_run_id,
	COALESCE((SELECT rd.last_modified FROM run_datasets rd WHERE rd.run_id = d.last_run_id AND rd.dataset = d.dataset),
		(SELECT r.started_at FROM sync_runs r WHERE r.id = d.last_run_id), d.updated_at),
	'first_seen', d.refid, d.title, d.short_title, d.language, d.date_in_force_raw, d.last_change_in_force,
	d.last_changed_by, d.last_updated
FROM documents d WHERE d.status = 'active';
--> statement-breakpoint
INSERT INTO "section_versions" ("document_id", "section_key", "valid_from_run", "observed_from", "origin", "text_hash",
	"number", "title")
SELECT s.document_id, s.section_key, v.valid_from_run, v.observed_from, 'first_seen', s.text_hash, s.number, s.title
FROM sections s JOIN document_versions v ON v.document_id = s.document_id;
--> statement-breakpoint
-- Every version with its content, current or not: what queries and users read.
CREATE VIEW "section_versions_full" AS
SELECT v.document_id, v.section_key, v.valid_from_run, v.valid_to_run, v.observed_from, v.observed_to, v.origin,
	v.text_hash, v.number, v.title, v.in_force, v.amended_by, v.in_force_source, v.change_note,
	COALESCE(v.kind, s.kind) AS kind, COALESCE(v.parent_key, s.parent_key) AS parent_key,
	COALESCE(v.heading_path, s.heading_path) AS heading_path, COALESCE(v.notes, s.notes) AS notes,
	COALESCE(v.ord, s.ord) AS ord, COALESCE(v.text, s.text) AS text
FROM section_versions v
LEFT JOIN sections s ON v.text IS NULL AND s.document_id = v.document_id AND s.section_key = v.section_key;
