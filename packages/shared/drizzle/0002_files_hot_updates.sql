DROP INDEX "files_status_idx";--> statement-breakpoint
-- Leave room in each page so the per-diff status updates stay on the same page (HOT updates).
ALTER TABLE "files" SET (fillfactor = 80);
