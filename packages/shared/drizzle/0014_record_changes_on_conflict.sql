-- lovsync_record_changes without the NOT EXISTS anti-join over the run's chunk_changes: on a server
-- whose tables have no statistics (autovacuum off, or a cold run faster than autovacuum's analyze)
-- the planner hashed every chunk_changes row of the run once per document, 651 ms per document at
-- 54,680 rows, so a cold run grew quadratically (bench/results/2026-12-02-issue-15.md). ON CONFLICT
-- on the unique (run_id, chunk_id) index does the same check per inserted row, whatever the plan.
CREATE OR REPLACE FUNCTION lovsync_record_changes(p_run integer, p_doc text) RETURNS void LANGUAGE plpgsql AS $$
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
    ORDER BY c.ord
    ON CONFLICT (run_id, chunk_id) DO NOTHING;
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
$$;
