/**
 * Issue 11: every state change of a run's lifecycle has one named function in
 * packages/shared/src/db/queries. This test reads the sources of apps/, packages/ and services/ and
 * fails on raw SQL that writes a status column (`status`, `parse_status`) anywhere else, unless the
 * statement is a measured hot path marked with a `raw SQL hot path` comment right before it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const QUERIES_DIR = 'packages/shared/src/db/queries/';
export const HOT_PATH_MARK = 'raw SQL hot path';

/** Does this SQL text write a status column (UPDATE ... SET status, INSERT INTO t (... status ...))? */
export function writesStatus(sql: string): boolean {
  const text = sql.replace(/--[^\n]*/g, ' ').replace(/\s+/g, ' ');
  // Function calls (now(), COALESCE(a, b)) folded to a word first, so that the `)` ending a CTE is
  // the only `)` the SET scan below stops at.
  let flat = text;
  for (let before = ''; before !== flat;) {
    before = flat;
    flat = flat.replace(/\b\w+\([^()]*\)/g, 'fn');
  }
  // UPDATE ... SET <assignments> [FROM|WHERE|RETURNING|)|;|end]: a status among the assignments.
  for (const m of flat.matchAll(
    /\bSET\b(.*?)(?=\bFROM\b|\bWHERE\b|\bRETURNING\b|\)\s*(?:,|SELECT\b|UPDATE\b|INSERT\b|DELETE\b|$)|;|$)/gi,
  )) {
    if (/(^|[\s,(])(\w+\.)?(parse_)?status\s*=/i.test(m[1]!)) return true;
  }
  // INSERT INTO t (columns): a status column inserted.
  for (const m of text.matchAll(/\bINSERT\s+INTO\s+[\w.]+\s*\(([^)]*)\)/gi)) {
    if (/(^|[\s,])(parse_)?status([\s,]|$)/i.test(m[1]!)) return true;
  }
  return false;
}

export interface StatusWrite {
  file: string;
  line: number;
  marked: boolean;
}

/** The SQL literals of one source file that write a status, and whether each is marked as a hot path. */
export function statusWrites(file: string, source: string): StatusWrite[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: StatusWrite[] = [];
  const visit = (node: ts.Node) => {
    const text =
      ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)
        ? node.text
        : ts.isTemplateExpression(node)
          ? [node.head.text, ...node.templateSpans.map((s) => s.literal.text)].join(' $x ')
          : undefined;
    if (text !== undefined) {
      if (/\b(UPDATE|INSERT)\b/i.test(text) && writesStatus(text)) {
        let stmt: ts.Node = node;
        while (stmt.parent && !ts.isSourceFile(stmt.parent) && !isStatement(stmt)) stmt = stmt.parent;
        const comments = ts.getLeadingCommentRanges(source, stmt.getFullStart()) ?? [];
        const marked = comments.some((c) => source.slice(c.pos, c.end).includes(HOT_PATH_MARK));
        found.push({ file, line: sf.getLineAndCharacterOfPosition(node.getStart()).line + 1, marked });
      }
      return;
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

function isStatement(node: ts.Node): boolean {
  return (
    ts.isExpressionStatement(node) ||
    ts.isVariableStatement(node) ||
    ts.isReturnStatement(node) ||
    ts.isIfStatement(node)
  );
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name === 'drizzle') continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

describe('status columns are written only through packages/shared/src/db/queries', () => {
  it('finds writes of a status column and tells marked hot paths apart (the check can fail)', () => {
    expect(writesStatus(`UPDATE run_datasets SET status = 'failed', error = $3 WHERE run_id = $1`)).toBe(
      true,
    );
    expect(writesStatus(`UPDATE file_changes SET parse_status = 'failed' WHERE id = $1`)).toBe(true);
    expect(writesStatus(`UPDATE files f SET hash = $2, status = 'unchanged' WHERE f.dataset = $1`)).toBe(
      true,
    );
    expect(
      writesStatus(`INSERT INTO run_datasets (run_id, dataset, status) VALUES ($1, $2, 'unchanged')`),
    ).toBe(true);
    expect(
      writesStatus(`WITH r AS (UPDATE sync_runs SET status = 'failed' WHERE id = $1 RETURNING id) SELECT 1`),
    ).toBe(true);
    expect(writesStatus(`INSERT INTO x (a) VALUES (1) ON CONFLICT (a) DO UPDATE SET status = 'b'`)).toBe(
      true,
    );
    expect(
      writesStatus(
        `UPDATE deliveries SET attempts = attempts + 1, at = now(), status = CASE WHEN $2 THEN 'a' END`,
      ),
    ).toBe(true);
    expect(
      writesStatus(
        `WITH d AS (DELETE FROM chunks WHERE id = $1) UPDATE documents SET at = now(), status = 'removed' WHERE id = $1`,
      ),
    ).toBe(true);
    expect(
      writesStatus(`UPDATE sync_runs SET sync_heartbeat_at = now() WHERE id = $1 AND status = 'running'`),
    ).toBe(false);
    expect(writesStatus(`SELECT status FROM run_datasets WHERE run_id = $1`)).toBe(false);
    expect(writesStatus(`INSERT INTO blobs (hash, size, content) SELECT h, 1, c FROM t`)).toBe(false);

    const source = [
      `await db.query("UPDATE run_datasets SET status = 'failed' WHERE run_id = $1", [1]);`,
      `// ${HOT_PATH_MARK}: measured`,
      'await db.query(`UPDATE files SET status = $2 WHERE dataset = $1`, [1, 2]);',
      `const q = 'SELECT status FROM files';`,
    ].join('\n');
    expect(statusWrites('x.ts', source)).toEqual([
      { file: 'x.ts', line: 1, marked: false },
      { file: 'x.ts', line: 3, marked: true },
    ]);
  });

  it('no raw SQL outside packages/shared/src/db/queries writes a status, except marked hot paths', () => {
    const offenders: string[] = [];
    for (const top of ['apps', 'packages', 'services']) {
      for (const path of sourceFiles(join(ROOT, top))) {
        const file = relative(ROOT, path);
        if (file.startsWith(QUERIES_DIR)) continue;
        for (const w of statusWrites(file, readFileSync(path, 'utf8')))
          if (!w.marked) offenders.push(`${w.file}:${w.line}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
