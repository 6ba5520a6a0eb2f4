/**
 * `lovsync show | history | diff` (issue 13): the versioned history, through the shared queries in
 * @lovsync/shared/db (the HTTP API uses the same ones). Usage errors (bad date, bad range, both
 * --as-of and --run) exit 2; unknown documents, sections and runs exit 1. Loaded when one of them
 * runs (history-commands.ts defines them).
 */
import {
  describePoint,
  diffHistory,
  documentAsOf,
  HistoryInputError,
  latestRunId,
  parseDate,
  parseRunId,
  parseVersionPoint,
  resolveDocumentId,
  resolveSectionKey,
  sectionHistory,
  type SectionVersionRow,
  type VersionPoint,
} from '@lovsync/shared/db';
import { withDb } from './with-db.ts';

type Out = (s: string) => void;
const out: Out = (s) => process.stdout.write(s);

/** Runs a command body; a HistoryInputError becomes one stderr line and exit 2 (invalid) or 1. */
export function action<A extends unknown[]>(
  fn: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      if (!(err instanceof HistoryInputError)) throw err;
      process.stderr.write(`lovsync: ${err.message}\n`);
      process.exitCode = err.kind === 'invalid' ? 2 : 1;
    }
  };
}

const json = (v: unknown) => out(`${JSON.stringify(v, null, 2)}\n`);
const day = (d: Date | null) => (d ? d.toISOString().slice(0, 10) : '');

/** What a version's origin adds to its line: nothing for a published change. */
const ORIGIN_NOTE: Record<SectionVersionRow['origin'], string> = {
  first_seen: ' (first seen; earlier history unknown)',
  changed: '',
  reparse: ' (re-extracted by lovsync: the published source did not change)',
};

function versionLine(v: SectionVersionRow): string {
  const parts = [`run ${v.validFromRun}${v.validToRun ? `..${v.validToRun - 1}` : '..'}`];
  parts.push(`published ${day(v.observedFrom)}${ORIGIN_NOTE[v.origin]}`);
  if (v.inForce || v.amendedBy)
    parts.push(`in force ${v.inForce ?? 'unknown'}${v.amendedBy ? ` by ${v.amendedBy}` : ''}`);
  return parts.join(', ');
}

function heading(v: { number: string | null; title: string | null; sectionKey: string }): string {
  const n = v.number ?? v.sectionKey;
  return v.title ? `${n}. ${v.title}` : n;
}

export async function showCommand(
  documentArg: string,
  sectionArg: string | undefined,
  o: { asOf?: string; run?: string; json: boolean },
): Promise<void> {
  if (o.asOf !== undefined && o.run !== undefined)
    throw new HistoryInputError('invalid', 'give either --as-of or --run, not both');
  const explicit: VersionPoint | undefined =
    o.asOf !== undefined
      ? { date: parseDate(o.asOf, '--as-of') }
      : o.run !== undefined
        ? { run: parseRunId(o.run, '--run') }
        : undefined;
  await withDb(async (db) => {
    const documentId = await resolveDocumentId(db.pool, documentArg);
    const sectionKey =
      sectionArg === undefined ? undefined : await resolveSectionKey(db.pool, documentId, sectionArg);
    let point = explicit;
    if (!point) {
      const latest = await latestRunId(db.pool);
      if (latest === null) throw new HistoryInputError('not_found', 'no runs yet');
      point = { run: latest };
    }
    const r = await documentAsOf(db.pool, { documentId, point, sectionKey, limit: 100_000 });
    if (o.json) return json(r);
    const d = r.document;
    out(
      `${d.documentId} — ${d.title} (as of ${describePoint(point)}; metadata from run ${d.validFromRun})\n`,
    );
    if (d.lastChangedBy) out(`last changed by ${d.lastChangedBy}\n`);
    for (const s of r.sections) {
      out(`\n${heading(s)}  [${versionLine(s)}]\n${s.text}\n`);
    }
  });
}

export async function historyCommand(
  documentArg: string,
  sectionArg: string,
  o: { json: boolean },
): Promise<void> {
  await withDb(async (db) => {
    const documentId = await resolveDocumentId(db.pool, documentArg);
    const sectionKey = await resolveSectionKey(db.pool, documentId, sectionArg);
    const r = await sectionHistory(db.pool, { documentId, sectionKey, limit: 100_000 });
    if (o.json) return json({ documentId, sectionKey, ...r });
    out(`${documentId} ${sectionKey}: ${r.total} version${r.total === 1 ? '' : 's'}\n`);
    r.versions.forEach((v, i) => {
      out(`\n#${i + 1} ${heading(v)}  [${versionLine(v)}]\n`);
      if (v.changeNote) out(`note: ${v.changeNote}\n`);
      out(`${v.text}\n`);
    });
  });
}

export async function diffCommand(
  documentArg: string | undefined,
  o: { from: string; to: string; json: boolean },
): Promise<void> {
  const from = parseVersionPoint(o.from, '--from');
  const to = parseVersionPoint(o.to, '--to');
  await withDb(async (db) => {
    const documentId = documentArg === undefined ? undefined : await resolveDocumentId(db.pool, documentArg);
    const r = await diffHistory(db.pool, { from, to, documentId, limit: 1_000_000 });
    if (o.json) return json(r);
    out(
      `${documentId ?? 'all documents'}: ${describePoint(from)} -> ${describePoint(to)}: ${r.documents.length} document${r.documents.length === 1 ? '' : 's'}, ${r.total} section${r.total === 1 ? '' : 's'} changed\n`,
    );
    for (const d of r.documents) {
      out(`${d.change} document ${d.documentId}${d.title ? ` (${d.title})` : ''}\n`);
      for (const [f, v] of Object.entries(d.fields))
        out(`  ${f}: ${JSON.stringify(v.from)} -> ${JSON.stringify(v.to)}\n`);
    }
    for (const s of r.sections) {
      out(
        `\n${s.change} ${s.documentId} ${heading(s)}${s.amendedBy ? ` (by ${s.amendedBy}${s.inForce ? `, in force ${s.inForce}` : ''})` : ''}\n`,
      );
      if (s.oldText !== null) out(`${indent('- ', s.oldText)}\n`);
      if (s.newText !== null) out(`${indent('+ ', s.newText)}\n`);
    }
  });
}

const indent = (p: string, t: string) =>
  t
    .split('\n')
    .map((l) => p + l)
    .join('\n');
