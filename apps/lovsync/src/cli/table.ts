/** Prints rows as an aligned text table (the CLI's default output; --json gives the raw rows). */
export function formatTable(rows: Record<string, unknown>[], columns?: string[]): string {
  if (rows.length === 0) return '(no rows)\n';
  const cols = columns ?? Object.keys(rows[0]!);
  const cell = (v: unknown) =>
    v instanceof Date ? v.toISOString() : v === null || v === undefined ? '' : String(v);
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => Math.min(80, cell(r[c]).length))));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => v.slice(0, 80).padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return (
    [
      line(cols),
      line(widths.map((w) => '-'.repeat(w))),
      ...rows.map((r) => line(cols.map((c) => cell(r[c])))),
    ].join('\n') + '\n'
  );
}

export function printRows(rows: Record<string, unknown>[], json: boolean, columns?: string[]): void {
  process.stdout.write(json ? `${JSON.stringify(rows, null, 2)}\n` : formatTable(rows, columns));
}
