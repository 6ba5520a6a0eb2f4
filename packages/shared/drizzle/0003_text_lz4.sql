-- Section, chunk and change texts above ~2 kB are compressed on insert. The default pglz was a
-- third of the database's CPU time in bench/parse; lz4 costs a fraction of that on write and read
-- (for the same reason as the blobs in 0001).
ALTER TABLE "sections" ALTER COLUMN "text" SET COMPRESSION lz4;--> statement-breakpoint
ALTER TABLE "sections" ALTER COLUMN "notes" SET COMPRESSION lz4;--> statement-breakpoint
ALTER TABLE "chunks" ALTER COLUMN "text" SET COMPRESSION lz4;--> statement-breakpoint
ALTER TABLE "section_changes" ALTER COLUMN "old_text" SET COMPRESSION lz4;--> statement-breakpoint
ALTER TABLE "section_changes" ALTER COLUMN "new_text" SET COMPRESSION lz4;
