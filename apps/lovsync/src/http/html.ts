/**
 * Server-rendered HTML without a template engine: every value interpolated into a `markup`
 * template is escaped unless it is itself a `SafeHtml` built by this module. (The tag is not named
 * `html` on purpose: prettier would reformat the templates as HTML and reflow their whitespace.)
 */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

type Interpolation = SafeHtml | string | number | boolean | null | undefined | readonly Interpolation[];

function render(v: Interpolation): string {
  if (v === null || v === undefined || v === false) return '';
  if (v instanceof SafeHtml) return v.value;
  if (Array.isArray(v)) return v.map(render).join('');
  return escapeHtml(String(v));
}

/** Tagged template: markup`<td>${value}</td>` escapes value; nested markup fragments pass through. */
export function markup(strings: TemplateStringsArray, ...values: Interpolation[]): SafeHtml {
  let out = strings[0]!;
  values.forEach((v, i) => {
    out += render(v) + strings[i + 1]!;
  });
  return new SafeHtml(out);
}

/** The Content-Security-Policy of our own pages: no scripts at all, inline styles only. */
export const PAGE_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const STYLE = `
:root { --fg:#1d2327; --muted:#5f6b73; --line:#dde3e8; --bg:#f6f8fa; --card:#fff; --accent:#0b5cad;
  --added:#2e7d32; --modified:#e09b00; --removed:#c62828; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; color:var(--fg); background:var(--bg); }
header { background:#12324f; color:#fff; padding:10px 24px; display:flex; gap:24px; align-items:baseline; }
header .brand { font-weight:700; font-size:18px; color:#fff; text-decoration:none; }
header nav a { color:#cfe3f7; margin-right:16px; text-decoration:none; }
header nav a:hover { color:#fff; text-decoration:underline; }
main { padding:20px 24px; max-width:1400px; }
h1 { font-size:22px; margin:0 0 12px; } h2 { font-size:17px; margin:24px 0 8px; } h3 { font-size:15px; margin:16px 0 6px; }
a { color:var(--accent); }
.card { background:var(--card); border:1px solid var(--line); border-radius:6px; padding:14px 16px; margin-bottom:16px; }
table { border-collapse:collapse; width:100%; background:var(--card); }
th, td { text-align:left; padding:6px 10px; border-bottom:1px solid var(--line); vertical-align:top; }
th { font-weight:600; color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.03em; background:#fafbfc; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
tr:hover td { background:#f3f7fb; }
.badge { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px; font-weight:600; color:#fff; }
.s-succeeded { background:var(--added); } .s-partial { background:var(--modified); } .s-failed { background:var(--removed); }
.s-running { background:var(--accent); } .s-other { background:var(--muted); }
.c-added { color:var(--added); font-weight:600; } .c-modified { color:#a86f00; font-weight:600; } .c-removed { color:var(--removed); font-weight:600; }
.muted { color:var(--muted); } .err { color:var(--removed); max-width:420px; overflow-wrap:anywhere; }
.kv { display:grid; grid-template-columns:max-content 1fr; gap:4px 16px; margin:0; }
.kv dt { color:var(--muted); } .kv dd { margin:0; }
details { border:1px solid var(--line); border-radius:4px; margin:4px 0; background:var(--card); }
details > summary { cursor:pointer; padding:6px 10px; }
details[open] > summary { border-bottom:1px solid var(--line); }
.texts { display:grid; grid-template-columns:1fr 1fr; gap:12px; padding:10px; }
.texts pre { white-space:pre-wrap; overflow-wrap:anywhere; margin:0; font:13px/1.5 ui-monospace,SFMono-Regular,Menlo,monospace;
  background:#fafbfc; border:1px solid var(--line); padding:8px; max-height:480px; overflow:auto; }
del { background:#fde2e1; color:#8a1c1c; text-decoration:line-through; } ins { background:#dff3e0; color:#1b5e20; text-decoration:none; }
.chart svg { width:100%; height:auto; max-width:1100px; display:block; }
.legend span { margin-right:16px; } .legend i { display:inline-block; width:10px; height:10px; margin-right:4px; vertical-align:middle; }
.pager { margin:12px 0; } .pager a { margin-right:16px; }
`;

export function layout(title: string, body: SafeHtml): string {
  return markup`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · lovsync</title>
<style>${new SafeHtml(STYLE)}</style>
</head>
<body>
<header><a class="brand" href="/">lovsync</a>
<nav><a href="/">Runs</a><a href="/admin/queues">Queues</a><a href="/api/runs">API</a><a href="/metrics">Metrics</a></nav></header>
<main>
${body}
</main>
</body>
</html>`.value;
}

export function statusBadge(status: string): SafeHtml {
  const cls = ['succeeded', 'partial', 'failed', 'running'].includes(status) ? `s-${status}` : 's-other';
  return markup`<span class="badge ${cls}">${status}</span>`;
}

export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export function formatDuration(from: Date, to: Date | null): string {
  if (!to) return '';
  const s = Math.max(0, Math.round((to.getTime() - from.getTime()) / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** Date-time in the given zone as `2025-10-28 04:31:00`, with the ISO instant as a tooltip. */
export function formatTime(d: Date | null, timeZone: string): SafeHtml {
  if (!d) return markup``;
  const local = new Intl.DateTimeFormat('sv-SE', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).format(d);
  return markup`<time datetime="${d.toISOString()}" title="${d.toISOString()}">${local}</time>`;
}

/**
 * Old and new text split into a common prefix, the differing middles and a common suffix (on word
 * boundaries): enough to highlight an amendment inside a long paragraph without a diff library.
 */
export function textDiff(
  oldText: string,
  newText: string,
): { prefix: string; oldMid: string; newMid: string; suffix: string } {
  const a = oldText.match(/\s+|[^\s]+/g) ?? [];
  const b = newText.match(/\s+|[^\s]+/g) ?? [];
  let p = 0;
  while (p < a.length && p < b.length && a[p] === b[p]) p++;
  let s = 0;
  while (s < a.length - p && s < b.length - p && a[a.length - 1 - s] === b[b.length - 1 - s]) s++;
  return {
    prefix: a.slice(0, p).join(''),
    oldMid: a.slice(p, a.length - s).join(''),
    newMid: b.slice(p, b.length - s).join(''),
    suffix: a.slice(a.length - s).join(''),
  };
}
