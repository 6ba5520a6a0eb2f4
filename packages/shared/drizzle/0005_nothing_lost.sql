-- A live sync writes its heartbeat into its run: the reconciler fails a run whose sync phase never
-- finished only when no sync job holds it AND the heartbeat is older than SYNC_STALE_SECONDS (a
-- Redis restart loses the job, not the process). datasets.missing_runs counts the consecutive runs
-- whose list omitted the dataset: it is removed only after DATASET_MISSING_RUNS of them (or a forced run).
ALTER TABLE "sync_runs" ADD COLUMN "sync_heartbeat_at" timestamp with time zone DEFAULT now();--> statement-breakpoint
ALTER TABLE "datasets" ADD COLUMN "missing_runs" integer DEFAULT 0 NOT NULL;
