-- The raw key attribute of a section (legalArticle@data-name, a chapter's data-lovdata-URL segment)
-- as written, before key normalisation: section_key is the normalised form (§9‑4a with U+2011 and
-- §9-4a are one §), data_name keeps what the file said. NULL for text blocks and rows written
-- before this migration (a reparse fills it).
ALTER TABLE "sections" ADD COLUMN "data_name" text;
