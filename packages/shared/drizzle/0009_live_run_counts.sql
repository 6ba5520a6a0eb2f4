-- sync_runs as every reader should see it (issue 16 point 11). A finished run shows its stored
-- tally; a run in progress shows what is committed so far: file counts and parse progress from its
-- file_changes rows, datasets failed / bytes / refused entries from its run_datasets rows. The
-- stored columns of a running run are only final once maybeCompleteRun has written them.
CREATE VIEW "sync_runs_live" AS
SELECT r."id", r."trigger", r."status", r."force", r."dataset_filter", r."started_at", r."sync_finished_at",
  r."sync_heartbeat_at", r."finished_at", r."datasets_checked",
  COALESCE(fc."datasets", r."datasets_changed") AS "datasets_changed",
  COALESCE(rd."failed", r."datasets_failed") AS "datasets_failed",
  COALESCE(fc."added", r."files_added") AS "files_added",
  COALESCE(fc."modified", r."files_modified") AS "files_modified",
  COALESCE(fc."removed", r."files_removed") AS "files_removed",
  r."files_unchanged",
  COALESCE(fc."total", r."parse_total") AS "parse_total",
  COALESCE(fc."succeeded", r."parse_succeeded") AS "parse_succeeded",
  COALESCE(fc."failed", r."parse_failed") AS "parse_failed",
  COALESCE(rd."refused", r."entries_refused") AS "entries_refused",
  COALESCE(rd."bytes", r."bytes_downloaded") AS "bytes_downloaded",
  r."error"
FROM "sync_runs" r
LEFT JOIN LATERAL (
  SELECT count(*)::int AS "total",
    count(*) FILTER (WHERE c."parse_status" = 'succeeded')::int AS "succeeded",
    count(*) FILTER (WHERE c."parse_status" = 'failed')::int AS "failed",
    count(*) FILTER (WHERE c."change" = 'added')::int AS "added",
    count(*) FILTER (WHERE c."change" = 'modified')::int AS "modified",
    count(*) FILTER (WHERE c."change" = 'removed')::int AS "removed",
    count(DISTINCT c."dataset")::int AS "datasets"
  FROM "file_changes" c WHERE c."run_id" = r."id" AND r."status" = 'running'
) fc ON r."status" = 'running'
LEFT JOIN LATERAL (
  SELECT count(*) FILTER (WHERE d."status" = 'failed')::int AS "failed",
    COALESCE(sum(d."entries_refused"), 0)::int AS "refused",
    COALESCE(sum(d."bytes_downloaded"), 0)::bigint AS "bytes"
  FROM "run_datasets" d WHERE d."run_id" = r."id" AND r."status" = 'running'
) rd ON r."status" = 'running';
