CREATE TABLE "chunks" (
	"chunk_id" text PRIMARY KEY NOT NULL,
	"document_id" text NOT NULL,
	"section_key" text NOT NULL,
	"ord" integer NOT NULL,
	"heading_path" text NOT NULL,
	"text" text NOT NULL,
	"token_count" integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE "cross_references" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"document_id" text NOT NULL,
	"section_key" text,
	"kind" text NOT NULL,
	"target_refid" text,
	"target_part" text,
	"raw" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "document_changes" (
	"run_id" integer NOT NULL,
	"document_id" text NOT NULL,
	"change" text NOT NULL,
	"kind" text,
	"dataset" text NOT NULL,
	"path" text NOT NULL,
	"sections_added" integer DEFAULT 0 NOT NULL,
	"sections_modified" integer DEFAULT 0 NOT NULL,
	"sections_removed" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "document_changes_run_id_document_id_pk" PRIMARY KEY("run_id","document_id")
);
--> statement-breakpoint
CREATE TABLE "documents" (
	"document_id" text PRIMARY KEY NOT NULL,
	"refid" text NOT NULL,
	"dataset" text NOT NULL,
	"path" text NOT NULL,
	"source_hash" text NOT NULL,
	"title" text NOT NULL,
	"short_title" text,
	"legacy_id" text,
	"language" text,
	"ministries" text[] NOT NULL,
	"date_in_force_raw" text,
	"date_in_force" date[] NOT NULL,
	"last_change_in_force" date,
	"last_changed_by" text,
	"changes_documents" text[] NOT NULL,
	"based_on" text[] NOT NULL,
	"legal_areas" text[] NOT NULL,
	"published_at" timestamp with time zone,
	"journal_number" text,
	"last_updated" text,
	"is_amendment" boolean DEFAULT false NOT NULL,
	"status" text NOT NULL,
	"last_run_id" integer NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "section_changes" (
	"run_id" integer NOT NULL,
	"document_id" text NOT NULL,
	"section_key" text NOT NULL,
	"change" text NOT NULL,
	"number" text,
	"heading_path" text,
	"old_text" text,
	"new_text" text,
	CONSTRAINT "section_changes_run_id_document_id_section_key_pk" PRIMARY KEY("run_id","document_id","section_key")
);
--> statement-breakpoint
CREATE TABLE "sections" (
	"document_id" text NOT NULL,
	"section_key" text NOT NULL,
	"parent_key" text,
	"kind" text NOT NULL,
	"number" text,
	"title" text,
	"heading_path" text NOT NULL,
	"text" text NOT NULL,
	"notes" text,
	"repealed" boolean DEFAULT false NOT NULL,
	"text_hash" text NOT NULL,
	"ord" integer NOT NULL,
	CONSTRAINT "sections_document_id_section_key_pk" PRIMARY KEY("document_id","section_key")
);
--> statement-breakpoint
CREATE TABLE "blob_documents" (
	"hash" text PRIMARY KEY NOT NULL,
	"document_id" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "blobs" (
	"hash" text PRIMARY KEY NOT NULL,
	"size" bigint NOT NULL,
	"content" "bytea" NOT NULL
);
--> statement-breakpoint
CREATE TABLE "datasets" (
	"name" text PRIMARY KEY NOT NULL,
	"last_modified" timestamp (3) with time zone,
	"etag" text,
	"archive_bytes" bigint,
	"file_count" integer,
	"last_run_id" integer,
	"listed" boolean DEFAULT true NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "file_changes" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"run_id" integer NOT NULL,
	"dataset" text NOT NULL,
	"path" text NOT NULL,
	"change" text NOT NULL,
	"old_hash" text,
	"new_hash" text,
	"old_size" bigint,
	"new_size" bigint,
	"parse_status" text DEFAULT 'pending' NOT NULL,
	"parse_error" text,
	"parsed_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "files" (
	"dataset" text NOT NULL,
	"path" text NOT NULL,
	"hash" text NOT NULL,
	"size" bigint NOT NULL,
	"status" text NOT NULL,
	"last_changed" timestamp (3) with time zone,
	"last_run_id" integer,
	CONSTRAINT "files_dataset_path_pk" PRIMARY KEY("dataset","path")
);
--> statement-breakpoint
CREATE TABLE "manifest_entries" (
	"run_id" integer NOT NULL,
	"dataset" text NOT NULL,
	"path" text NOT NULL,
	"hash" text NOT NULL,
	"size" bigint NOT NULL,
	CONSTRAINT "manifest_entries_run_id_dataset_path_pk" PRIMARY KEY("run_id","dataset","path")
);
--> statement-breakpoint
CREATE TABLE "run_datasets" (
	"run_id" integer NOT NULL,
	"dataset" text NOT NULL,
	"status" text NOT NULL,
	"vanished" boolean DEFAULT false NOT NULL,
	"last_modified" timestamp (3) with time zone,
	"etag" text,
	"archive_bytes" bigint,
	"file_count" integer,
	"bytes_downloaded" bigint DEFAULT 0 NOT NULL,
	"entries_refused" integer DEFAULT 0 NOT NULL,
	"refused" jsonb,
	"timings" jsonb,
	"error" text,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "run_datasets_run_id_dataset_pk" PRIMARY KEY("run_id","dataset")
);
--> statement-breakpoint
CREATE TABLE "sync_runs" (
	"id" serial PRIMARY KEY NOT NULL,
	"trigger" text NOT NULL,
	"status" text DEFAULT 'running' NOT NULL,
	"force" boolean DEFAULT false NOT NULL,
	"dataset_filter" text,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sync_finished_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"datasets_checked" integer DEFAULT 0 NOT NULL,
	"datasets_changed" integer DEFAULT 0 NOT NULL,
	"datasets_failed" integer DEFAULT 0 NOT NULL,
	"files_added" integer DEFAULT 0 NOT NULL,
	"files_modified" integer DEFAULT 0 NOT NULL,
	"files_removed" integer DEFAULT 0 NOT NULL,
	"files_unchanged" integer DEFAULT 0 NOT NULL,
	"parse_total" integer DEFAULT 0 NOT NULL,
	"parse_succeeded" integer DEFAULT 0 NOT NULL,
	"parse_failed" integer DEFAULT 0 NOT NULL,
	"entries_refused" integer DEFAULT 0 NOT NULL,
	"bytes_downloaded" bigint DEFAULT 0 NOT NULL,
	"error" text
);
--> statement-breakpoint
ALTER TABLE "chunks" ADD CONSTRAINT "chunks_document_id_documents_document_id_fk" FOREIGN KEY ("document_id") REFERENCES "public"."documents"("document_id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "cross_references" ADD CONSTRAINT "cross_references_document_id_documents_document_id_fk" FOREIGN KEY ("document_id") REFERENCES "public"."documents"("document_id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sections" ADD CONSTRAINT "sections_document_id_documents_document_id_fk" FOREIGN KEY ("document_id") REFERENCES "public"."documents"("document_id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "file_changes" ADD CONSTRAINT "file_changes_run_id_sync_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."sync_runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "run_datasets" ADD CONSTRAINT "run_datasets_run_id_sync_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."sync_runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "chunks_document_idx" ON "chunks" USING btree ("document_id","ord");--> statement-breakpoint
CREATE INDEX "cross_references_document_idx" ON "cross_references" USING btree ("document_id");--> statement-breakpoint
CREATE INDEX "cross_references_target_idx" ON "cross_references" USING btree ("target_refid");--> statement-breakpoint
CREATE INDEX "document_changes_document_idx" ON "document_changes" USING btree ("document_id");--> statement-breakpoint
CREATE INDEX "documents_refid_idx" ON "documents" USING btree ("refid");--> statement-breakpoint
CREATE INDEX "documents_file_idx" ON "documents" USING btree ("dataset","path");--> statement-breakpoint
CREATE INDEX "section_changes_document_idx" ON "section_changes" USING btree ("document_id");--> statement-breakpoint
CREATE INDEX "blob_documents_document_idx" ON "blob_documents" USING btree ("document_id");--> statement-breakpoint
CREATE UNIQUE INDEX "file_changes_run_file_uq" ON "file_changes" USING btree ("run_id","dataset","path");--> statement-breakpoint
CREATE INDEX "file_changes_file_idx" ON "file_changes" USING btree ("dataset","path");--> statement-breakpoint
CREATE INDEX "file_changes_pending_idx" ON "file_changes" USING btree ("run_id") WHERE "file_changes"."parse_status" = 'pending';--> statement-breakpoint
CREATE INDEX "files_status_idx" ON "files" USING btree ("status");--> statement-breakpoint
CREATE INDEX "files_hash_idx" ON "files" USING btree ("hash");--> statement-breakpoint
CREATE INDEX "run_datasets_dataset_idx" ON "run_datasets" USING btree ("dataset","status");--> statement-breakpoint
CREATE INDEX "sync_runs_running_idx" ON "sync_runs" USING btree ("id") WHERE "sync_runs"."status" = 'running';