-- Language twins, dokid collisions and reparse (issue 12 points 1, 4; issue 17 point 5).
-- documents.document_id stays the storage key; documents.dokid is the dokid as published (a
-- nynorsk twin `nl-18140517-000-nn.xml` is stored as `NL/lov/1814-05-17@nn`, its dokid stays
-- `NL/lov/1814-05-17`); twin_id points at the other language version carrying the same dokid;
-- extractor_version is the extractor that derived the stored sections; previous_carrier is the
-- `dataset/path` that carried the document before the run of last_run_id (collision decisions).
-- file_changes.document_id is the document a parsed file carries; collision names the other file
-- carrying it (both rows).
ALTER TABLE "documents" ADD COLUMN "dokid" text;--> statement-breakpoint
UPDATE "documents" SET "dokid" = "document_id";--> statement-breakpoint
ALTER TABLE "documents" ALTER COLUMN "dokid" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "documents" ADD COLUMN "twin_id" text;--> statement-breakpoint
ALTER TABLE "documents" ADD COLUMN "extractor_version" text;--> statement-breakpoint
ALTER TABLE "documents" ADD COLUMN "previous_carrier" text;--> statement-breakpoint
CREATE INDEX "documents_dokid_idx" ON "documents" ("dokid");--> statement-breakpoint
ALTER TABLE "file_changes" ADD COLUMN "document_id" text;--> statement-breakpoint
ALTER TABLE "file_changes" ADD COLUMN "collision" text;
