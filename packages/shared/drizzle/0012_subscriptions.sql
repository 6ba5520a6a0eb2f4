-- Issue 14: outbox of change events, chunk content hashes and chunk_changes, webhook subscriptions
-- and their delivery log. The run.finished event is written by a trigger in the transaction that
-- ends the run (maybeCompleteRun, failRun and any later run-lifecycle code), so it can neither be
-- lost nor written for a run that did not end.
ALTER TABLE "chunks" ADD COLUMN "content_hash" text GENERATED ALWAYS AS (md5("heading_path" || E'\x1f' || "text")) STORED;--> statement-breakpoint
CREATE TABLE "outbox" (
  "id" bigserial PRIMARY KEY NOT NULL,
  "run_id" integer NOT NULL,
  "event_key" text NOT NULL,
  "event" text NOT NULL,
  "document_id" text,
  "section_key" text,
  "legal_areas" text[] DEFAULT '{}' NOT NULL,
  "ministries" text[] DEFAULT '{}' NOT NULL,
  "payload" jsonb NOT NULL,
  "created_at" timestamp with time zone DEFAULT now() NOT NULL,
  CONSTRAINT "outbox_run_event_key" UNIQUE ("run_id", "event_key")
);--> statement-breakpoint
CREATE INDEX "outbox_run_idx" ON "outbox" ("run_id", "id");--> statement-breakpoint
CREATE INDEX "outbox_document_idx" ON "outbox" ("document_id", "run_id");--> statement-breakpoint
CREATE INDEX "outbox_run_finished_idx" ON "outbox" ("id") WHERE "event" = 'run.finished';--> statement-breakpoint
CREATE TABLE "chunk_changes" (
  "id" bigserial PRIMARY KEY NOT NULL,
  "run_id" integer NOT NULL,
  "document_id" text NOT NULL,
  "chunk_id" text NOT NULL,
  "section_key" text NOT NULL,
  "change" text NOT NULL,
  "old_hash" text,
  "new_hash" text,
  "old_words" text,
  "editorial_only" boolean DEFAULT false NOT NULL,
  CONSTRAINT "chunk_changes_run_chunk" UNIQUE ("run_id", "chunk_id")
);--> statement-breakpoint
CREATE INDEX "chunk_changes_run_document_idx" ON "chunk_changes" ("run_id", "document_id");--> statement-breakpoint
CREATE TABLE "subscriptions" (
  "id" serial PRIMARY KEY NOT NULL,
  "url" text NOT NULL,
  "secret" text NOT NULL,
  "filter_kind" text NOT NULL,
  "filter_values" text[] DEFAULT '{}' NOT NULL,
  "events" text[] NOT NULL,
  "dispatched_through" bigint DEFAULT 0 NOT NULL,
  "created_at" timestamp with time zone DEFAULT now() NOT NULL
);--> statement-breakpoint
CREATE TABLE "deliveries" (
  "id" bigserial PRIMARY KEY NOT NULL,
  "delivery_id" uuid NOT NULL UNIQUE,
  "subscription_id" integer NOT NULL REFERENCES "subscriptions"("id") ON DELETE CASCADE,
  "run_id" integer NOT NULL,
  "batch" integer NOT NULL,
  "batches" integer NOT NULL,
  "event_ids" bigint[] NOT NULL,
  "status" text DEFAULT 'pending' NOT NULL,
  "attempts" integer DEFAULT 0 NOT NULL,
  "last_error" text,
  "response_code" integer,
  "created_at" timestamp with time zone DEFAULT now() NOT NULL,
  "last_attempt_at" timestamp with time zone,
  "delivered_at" timestamp with time zone,
  CONSTRAINT "deliveries_sub_run_batch" UNIQUE ("subscription_id", "run_id", "batch")
);--> statement-breakpoint
CREATE INDEX "deliveries_pending_idx" ON "deliveries" ("subscription_id", "id") WHERE "status" = 'pending';--> statement-breakpoint
-- A URL/feed slug of a ministry or legal-area name: lower case, æ ø å spelt out, runs of anything
-- else than a-z 0-9 become one '-'.
CREATE FUNCTION lovsync_slug(v text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT trim(both '-' from regexp_replace(
    replace(replace(replace(replace(replace(replace(lower(v), 'æ', 'ae'), 'ø', 'o'), 'å', 'a'), 'Æ', 'ae'), 'Ø', 'o'), 'Å', 'a'),
    '[^a-z0-9]+', '-', 'g'))
$$;--> statement-breakpoint
-- Every slug a list of legal areas ("Fast eiendoms rettsforhold > Husleie") answers to: each level and the whole path.
CREATE FUNCTION lovsync_area_slugs(areas text[]) RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT COALESCE(array_agg(DISTINCT s), '{}') FROM (
    SELECT lovsync_slug(a) AS s FROM unnest(areas) a
    UNION SELECT lovsync_slug(p) FROM unnest(areas) a, unnest(string_to_array(a, ' > ')) p
  ) x WHERE s <> ''
$$;--> statement-breakpoint
-- The words of a text: lower case without whitespace and punctuation. Two chunk texts with the same
-- words differ only editorially (spacing, punctuation, quotes, dashes).
CREATE FUNCTION lovsync_words_hash(v text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT md5(regexp_replace(lower(v), '[[:space:][:punct:]«»‘’“”–—…]+', '', 'g'))
$$;--> statement-breakpoint
-- Before a write replaces or deletes a document's chunks: the chunks as they were before the run
-- (a row already written by an earlier transaction of the same run keeps its before-run state).
CREATE FUNCTION lovsync_stage_chunks(p_run integer, p_doc text) RETURNS void LANGUAGE sql AS $$
  INSERT INTO chunk_changes (run_id, document_id, chunk_id, section_key, change, old_hash, old_words)
  SELECT p_run, document_id, chunk_id, section_key, 'removed', content_hash, lovsync_words_hash(text)
  FROM chunks WHERE document_id = p_doc
  ON CONFLICT (run_id, chunk_id) DO NOTHING
$$;--> statement-breakpoint
-- After the write, in the same transaction: the document's chunk changes of the run (before-run
-- state vs now) and its outbox events rebuilt from document_changes / section_changes, so a
-- document written twice in one run (an archive rename: tombstone then revival) ends with the
-- events of its net change and nothing else.
CREATE FUNCTION lovsync_record_changes(p_run integer, p_doc text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  UPDATE chunk_changes SET change = 'removed', new_hash = NULL, editorial_only = false
    WHERE run_id = p_run AND document_id = p_doc;
  UPDATE chunk_changes cc SET new_hash = c.content_hash, section_key = c.section_key,
      change = CASE WHEN cc.old_hash IS NULL THEN 'added' ELSE 'modified' END,
      editorial_only = cc.old_hash IS NOT NULL AND cc.old_hash <> c.content_hash AND cc.old_words = lovsync_words_hash(c.text)
    FROM chunks c
    WHERE cc.run_id = p_run AND cc.document_id = p_doc AND c.document_id = p_doc AND c.chunk_id = cc.chunk_id;
  INSERT INTO chunk_changes (run_id, document_id, chunk_id, section_key, change, new_hash)
    SELECT p_run, p_doc, c.chunk_id, c.section_key, 'added', c.content_hash FROM chunks c
    WHERE c.document_id = p_doc
      AND NOT EXISTS (SELECT 1 FROM chunk_changes x WHERE x.run_id = p_run AND x.chunk_id = c.chunk_id)
    ORDER BY c.ord;
  DELETE FROM chunk_changes WHERE run_id = p_run AND document_id = p_doc AND old_hash IS NOT DISTINCT FROM new_hash;

  DELETE FROM outbox WHERE run_id = p_run AND document_id = p_doc;
  INSERT INTO outbox (run_id, event_key, event, document_id, legal_areas, ministries, payload)
    SELECT dc.run_id, 'document:' || dc.document_id, 'document.' || dc.change, dc.document_id, d.legal_areas, d.ministries,
      jsonb_build_object('type', 'document.' || dc.change, 'runId', dc.run_id, 'documentId', dc.document_id,
        'refid', d.refid, 'title', d.title, 'shortTitle', d.short_title, 'change', dc.change, 'kind', dc.kind,
        'dataset', dc.dataset, 'path', dc.path, 'legalAreas', to_jsonb(d.legal_areas), 'ministries', to_jsonb(d.ministries),
        'lastChangedBy', d.last_changed_by, 'lastChangeInForce', d.last_change_in_force,
        'sections', jsonb_build_object('added', dc.sections_added, 'modified', dc.sections_modified, 'removed', dc.sections_removed))
    FROM document_changes dc JOIN documents d ON d.document_id = dc.document_id
    WHERE dc.run_id = p_run AND dc.document_id = p_doc AND dc.kind IS DISTINCT FROM 'reparse';
  INSERT INTO outbox (run_id, event_key, event, document_id, section_key, legal_areas, ministries, payload)
    SELECT sc.run_id, 'section:' || sc.document_id || '#' || sc.section_key, 'section.' || sc.change, sc.document_id,
      sc.section_key, d.legal_areas, d.ministries,
      jsonb_build_object('type', 'section.' || sc.change, 'runId', sc.run_id, 'documentId', sc.document_id,
        'sectionKey', sc.section_key, 'number', sc.number, 'headingPath', sc.heading_path, 'change', sc.change,
        'oldText', sc.old_text, 'newText', sc.new_text)
    FROM section_changes sc
      JOIN document_changes dc ON dc.run_id = sc.run_id AND dc.document_id = sc.document_id
      JOIN documents d ON d.document_id = sc.document_id
      LEFT JOIN sections s ON s.document_id = sc.document_id AND s.section_key = sc.section_key
    WHERE sc.run_id = p_run AND sc.document_id = p_doc AND dc.kind IS DISTINCT FROM 'reparse'
    ORDER BY s.ord NULLS LAST, sc.section_key;
END
$$;--> statement-breakpoint
CREATE FUNCTION lovsync_run_finished() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO outbox (run_id, event_key, event, payload)
  SELECT NEW.id, 'run', 'run.finished', jsonb_build_object('type', 'run.finished', 'runId', NEW.id,
    'status', NEW.status, 'trigger', NEW.trigger, 'startedAt', NEW.started_at, 'finishedAt', NEW.finished_at,
    'error', NEW.error,
    'counts', jsonb_build_object(
      'filesAdded', NEW.files_added, 'filesModified', NEW.files_modified, 'filesRemoved', NEW.files_removed,
      'parseSucceeded', NEW.parse_succeeded, 'parseFailed', NEW.parse_failed,
      'documentsAdded', (SELECT count(*) FROM outbox WHERE run_id = NEW.id AND event = 'document.added'),
      'documentsModified', (SELECT count(*) FROM outbox WHERE run_id = NEW.id AND event = 'document.modified'),
      'documentsRemoved', (SELECT count(*) FROM outbox WHERE run_id = NEW.id AND event = 'document.removed'),
      'sectionsChanged', (SELECT count(*) FROM outbox WHERE run_id = NEW.id AND event LIKE 'section.%'),
      'chunksChanged', (SELECT count(*) FROM chunk_changes WHERE run_id = NEW.id)))
  ON CONFLICT (run_id, event_key) DO NOTHING;
  RETURN NULL;
END
$$;--> statement-breakpoint
CREATE TRIGGER "sync_runs_finished_outbox" AFTER UPDATE OF "status" ON "sync_runs" FOR EACH ROW
  WHEN (OLD.status = 'running' AND NEW.status <> 'running') EXECUTE FUNCTION lovsync_run_finished();
