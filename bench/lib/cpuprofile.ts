/** Summarises V8 .cpuprofile files (node --cpu-prof): self time by area and by function. */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Coarse areas, first match wins (by script URL or V8 pseudo-function). */
const AREAS: [string, (fn: string, url: string) => boolean][] = [
  ['garbage collector', (fn) => fn === '(garbage collector)'],
  ['XML tokenizer (saxes)', (_fn, url) => url.includes('/saxes/') || url.includes('/sax/')],
  [
    'socket/stream writes (writev, writeBuffer, ...)',
    (fn) =>
      /^(writev|writeBuffer|writeUtf8String|writeLatin1String|_writeGeneric|_writev|writeGeneric)$/.test(fn),
  ],
  [
    'buffer copies + encoding (hexSlice, copy, from, toString)',
    (fn) =>
      /^(hexSlice|utf8Slice|latin1Slice|hexWrite|utf8Write|copy|_copyActual|compare|byteLengthUtf8|fill)$/.test(
        fn,
      ),
  ],
  ['hashing (hash-wasm)', (_fn, url) => url.includes('/hash-wasm/') || url.startsWith('wasm://')],
  [
    'tar (tar-stream, b4a, streamx)',
    (_fn, url) => /\/(tar-stream|b4a|streamx|fast-fifo|text-decoder|bare-)/.test(url),
  ],
  ['http client (undici)', (_fn, url) => url.includes('/undici/')],
  ['extractor (services/parser/src/extract)', (_fn, url) => url.includes('services/parser/src/extract')],
  ['parser jobs + writer (services/parser/src)', (_fn, url) => url.includes('services/parser/src')],
  ['pg driver', (_fn, url) => /\/(pg|pg-protocol|pg-types|pg-pool|postgres-bytea)\//.test(url)],
  [
    'bullmq + ioredis',
    (_fn, url) => /\/(bullmq|ioredis|msgpackr|@ioredis|redis-parser|cluster-key-slot)\//.test(url),
  ],
  ['drizzle-orm', (_fn, url) => url.includes('/drizzle-orm/')],
  ['sync service (services/sync/src)', (_fn, url) => url.includes('services/sync/src')],
  ['differ service (services/differ/src)', (_fn, url) => url.includes('services/differ/src')],
  [
    'shared + app (packages/shared, apps/lovsync)',
    (_fn, url) => url.includes('packages/shared/src') || url.includes('apps/lovsync/src'),
  ],
  ['logger (pino)', (_fn, url) => /\/(pino|sonic-boom|thread-stream)/.test(url)],
  ['native/V8 (program)', (fn) => fn === '(program)'],
  ['node internals', (_fn, url) => url.startsWith('node:') || url === ''],
  ['other', () => true],
];

export interface ProfileSummary {
  /** Sampled time when the main thread was not idle (the shares below are of this). */
  busyMs: number;
  /** Sampled idle time: waiting for Postgres/Redis, or for work before/after the backlog. */
  idleMs: number;
  areas: { area: string; ms: number }[];
  functions: { name: string; area: string; ms: number }[];
}

/** Merges every .cpuprofile in `dir` (main threads of the processes, start-up included). */
export async function summariseProfiles(dir: string, top = 15): Promise<ProfileSummary> {
  const byFunction = new Map<string, { area: string; ms: number }>();
  let busyMs = 0;
  let idleMs = 0;
  for (const file of (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'))) {
    const profile = JSON.parse(await readFile(join(dir, file), 'utf8')) as CpuProfile;
    const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
    profile.samples.forEach((id, i) => {
      const ms = (profile.timeDeltas[i] ?? 0) / 1000;
      const { functionName, url, lineNumber } = nodes.get(id)!.callFrame;
      if (functionName === '(idle)') {
        idleMs += ms;
        return;
      }
      const area = AREAS.find(([, match]) => match(functionName, url))![0];
      const where = url ? ` ${url.slice(url.lastIndexOf('/') + 1)}:${lineNumber + 1}` : '';
      const name = `${functionName || '(anonymous)'}${where}`;
      const entry = byFunction.get(name) ?? { area, ms: 0 };
      entry.ms += ms;
      byFunction.set(name, entry);
      busyMs += ms;
    });
  }
  const areas = new Map<string, number>();
  for (const { area, ms } of byFunction.values()) areas.set(area, (areas.get(area) ?? 0) + ms);
  return {
    busyMs,
    idleMs,
    areas: [...areas].map(([area, ms]) => ({ area, ms })).sort((a, b) => b.ms - a.ms),
    functions: [...byFunction]
      .map(([name, v]) => ({ name, ...v }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top),
  };
}
