/**
 * bench/blobs (issue 15): how blobs go into and out of the store, on real Lovdata XML (the files of
 * ../shared/corpus, extracted once into bench/.work/blobs-corpus). Every write method stores the same
 * files in the same batches as sync's ManifestWriter (<= 1,000 rows or 2 MB, one transaction, one
 * client) into an empty lz4-compressed `blobs` table; every read method reads each of them back as
 * a JavaScript string, 8 at a time (PARSER_CONCURRENCY's default), as the parser does.
 *
 *   writes  hex-array    unnest($2::bytea[]): node-postgres sends an array of Buffers as hex text
 *                        (the store before issue 15)
 *           row-params   one binary Buffer parameter per blob (multi-row VALUES): no hex anywhere
 *                        (postgresBlobStore.putMany since issue 15)
 *           concat       one binary parameter holding the batch, cut by substring() in Postgres
 *           copy-binary  COPY ... FROM STDIN (FORMAT binary) (pg-copy-streams) into a temporary
 *                        table, then INSERT ... ON CONFLICT DO NOTHING (COPY cannot skip duplicates)
 *           filesystem   one file per blob (write + rename), outside Postgres
 *   reads   convert-from SELECT convert_from(content, 'UTF8'): Postgres checks UTF-8, text transfer
 *                        (postgresBlobStore.readText, before and after issue 15)
 *           hex-bytea    SELECT content (bytea as hex text), then a fatal TextDecoder in Node
 *           binary-bytea SELECT content in the binary result format, then a fatal TextDecoder. Not
 *                        a candidate: node-postgres decodes every DataRow field as UTF-8 text and
 *                        re-encodes binary ones (pg-protocol), so invalid UTF-8 would arrive as
 *                        U+FFFD and pass; measured only to show what it would cost
 *           filesystem   readFile + fatal TextDecoder
 *
 *   pnpm bench:blobs    (FILES=2000 by default, REPS=3 rounds; prints MB/s, Node CPU and backend CPU)
 *
 * Run it on a quiet machine (load < 2): it is short (~1 min), but its figures are CPU seconds.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { postgresBlobStore } from '@lovsync/shared/blob-store';
import { hashBytes } from '@lovsync/shared/hash';
import { createTestEnv, type TestEnv } from '@lovsync/testkit/support/harness';
import { postgresBackendCpuSeconds } from './lib/cpu.ts';
import { fmt, log, MB, printTable } from './lib/stats.ts';
import { cachedDir, WORK_DIR } from './lib/work.ts';

const FILES = Number(process.env.FILES ?? 2000);
const REPS = Number(process.env.REPS ?? 3);
const CONCURRENCY = 8;
const CORPUS = join(import.meta.dirname, '..', '..', '..', 'shared', 'corpus');
const BATCH_ROWS = 1000;
const BATCH_BYTES = 2 * 1024 * 1024;

type Blob = { hash: string; content: Buffer };

async function loadCorpus(): Promise<Blob[]> {
  const { dir } = await cachedDir('blobs-corpus', 'blobs-v1', async (out) => {
    for (const archive of (await readdir(CORPUS)).filter((f) => f.endsWith('.tar.bz2')).sort())
      execFileSync('tar', ['-xjf', join(CORPUS, archive), '-C', out]);
    return {};
  });
  const paths: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      if (e.isDirectory()) await walk(join(d, e.name));
      else if (e.name.endsWith('.xml')) paths.push(join(d, e.name));
    }
  };
  await walk(dir);
  paths.sort();
  // Spread over the three archives: every k-th file of the sorted list.
  const step = Math.max(1, Math.floor(paths.length / FILES));
  const chosen = paths.filter((_, i) => i % step === 0).slice(0, FILES);
  const seen = new Set<string>();
  const out: Blob[] = [];
  for (const p of chosen) {
    const content = await readFile(p);
    const hash = await hashBytes(content);
    if (seen.has(hash)) continue;
    seen.add(hash);
    out.push({ hash, content });
  }
  return out;
}

function batches(blobs: Blob[]): Blob[][] {
  const out: Blob[][] = [];
  let cur: Blob[] = [];
  let bytes = 0;
  for (const b of blobs) {
    cur.push(b);
    bytes += b.content.length;
    if (cur.length >= BATCH_ROWS || bytes >= BATCH_BYTES) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
  }
  if (cur.length) out.push(cur);
  return out;
}

type Writer = (c: pg.PoolClient, batch: Blob[]) => Promise<void>;

const writers: Record<string, Writer> = {
  'hex-array (before)': async (c, batch) => {
    await c.query(
      `INSERT INTO blobs (hash, size, content)
       SELECT h, octet_length(x), x FROM unnest($1::text[], $2::bytea[]) AS t(h, x) ON CONFLICT (hash) DO NOTHING`,
      [batch.map((b) => b.hash), batch.map((b) => b.content)],
    );
  },
  'row-params (store)': async (c, batch) => {
    await postgresBlobStore(c).putMany(batch);
  },
  concat: async (c, batch) => {
    const lengths = batch.map((b) => b.content.length);
    const offsets: number[] = [];
    let at = 1;
    for (const n of lengths) {
      offsets.push(at);
      at += n;
    }
    await c.query(
      `INSERT INTO blobs (hash, size, content)
       SELECT h, n, substring($2::bytea FROM o FOR n) FROM unnest($1::text[], $3::int[], $4::int[]) AS t(h, o, n)
       ON CONFLICT (hash) DO NOTHING`,
      [batch.map((b) => b.hash), Buffer.concat(batch.map((b) => b.content)), offsets, lengths],
    );
  },
  'copy-binary': async (c, batch) => {
    await c.query(
      `CREATE TEMP TABLE IF NOT EXISTS blob_stage (hash text, content bytea);
       ALTER TABLE blob_stage ALTER COLUMN content SET STORAGE EXTERNAL`,
    );
    await pipeline(
      Readable.from(copyTuples(batch)),
      c.query(copyFrom('COPY blob_stage FROM STDIN (FORMAT binary)')),
    );
    await c.query(
      `INSERT INTO blobs (hash, size, content) SELECT hash, octet_length(content), content FROM blob_stage
       ON CONFLICT (hash) DO NOTHING;
       TRUNCATE blob_stage`,
    );
  },
};

/** PostgreSQL's binary COPY format: header, (hash text, content bytea) tuples, trailer. */
function* copyTuples(batch: Blob[]): Generator<Buffer> {
  const header = Buffer.alloc(19);
  Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1').copy(header);
  yield header; // flags and header extension length stay 0
  for (const b of batch) {
    const hash = Buffer.from(b.hash);
    const head = Buffer.alloc(2 + 4 + hash.length + 4);
    head.writeInt16BE(2, 0);
    head.writeInt32BE(hash.length, 2);
    hash.copy(head, 6);
    head.writeInt32BE(b.content.length, 6 + hash.length);
    yield head;
    yield b.content;
  }
  const trailer = Buffer.alloc(2);
  trailer.writeInt16BE(-1, 0);
  yield trailer;
}

async function fsWrite(dir: string, batch: Blob[]): Promise<void> {
  for (const b of batch) {
    const sub = join(dir, b.hash.slice(0, 2));
    await mkdir(sub, { recursive: true });
    const tmp = join(sub, `${b.hash}.tmp`);
    await writeFile(tmp, b.content);
    await rename(tmp, join(sub, b.hash));
  }
}

type Reader = (hash: string) => Promise<string>;

function pgReaders(pool: pg.Pool): Record<string, Reader> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const store = postgresBlobStore(pool);
  return {
    'convert-from (store)': (h) => store.readText(h),
    'hex-bytea': async (h) => {
      const r = await pool.query<{ content: Buffer }>('SELECT content FROM blobs WHERE hash = $1', [h]);
      return decoder.decode(r.rows[0]!.content);
    },
    'binary-bytea': async (h) => {
      // node-postgres's `binary` result option (not in its type declarations).
      const config = {
        text: 'SELECT content FROM blobs WHERE hash = $1',
        values: [h],
        binary: true,
        types: { getTypeParser: () => (raw: Buffer) => raw },
      };
      const r = await pool.query<{ content: Buffer }>(config as pg.QueryConfig);
      return decoder.decode(r.rows[0]!.content);
    },
  };
}

interface Measure {
  wallMs: number;
  nodeCpu: number;
  pgCpu: number;
}

async function measure(env: TestEnv, fn: () => Promise<void>): Promise<Measure> {
  const pg0 = postgresBackendCpuSeconds(env.name);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { wallMs, nodeCpu: (cpu.user + cpu.system) / 1e6, pgCpu: postgresBackendCpuSeconds(env.name) - pg0 };
}

async function inParallel<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

async function main(): Promise<void> {
  const blobs = await loadCorpus();
  const bytes = blobs.reduce((s, b) => s + b.content.length, 0);
  const multiByte = blobs.filter((b) => b.content.some((x) => x >= 0x80)).length;
  log(`${blobs.length} real XML files, ${(bytes / MB).toFixed(1)} MB (${multiByte} with multi-byte UTF-8)`);
  const env = await createTestEnv('blobs_bench');
  const fsDir = join(WORK_DIR, 'blobs-fs');
  const results = new Map<string, Measure[]>();
  const add = (k: string, m: Measure) => results.set(k, [...(results.get(k) ?? []), m]);
  try {
    const pool = env.database.pool;
    const readers = pgReaders(pool);
    const hashes = blobs.map((b) => b.hash);
    const expected = new Map(blobs.map((b) => [b.hash, b.content.toString('utf8')]));
    const check = (h: string, text: string) => {
      if (text !== expected.get(h)) throw new Error(`read back ${h} differs`);
    };
    for (let rep = 0; rep < REPS; rep++) {
      for (const [name, write] of Object.entries(writers)) {
        await pool.query('TRUNCATE blobs CASCADE');
        await pool.query('CHECKPOINT');
        const client = await pool.connect();
        try {
          add(
            `write ${name}`,
            await measure(env, async () => {
              await client.query('BEGIN');
              for (const b of batches(blobs)) await write(client, b);
              await client.query('COMMIT');
            }),
          );
        } finally {
          client.release();
        }
        const n = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM blobs');
        if (n.rows[0]!.n !== blobs.length) throw new Error(`${name} stored ${n.rows[0]!.n} blobs`);
      }
      await rm(fsDir, { recursive: true, force: true });
      add(
        'write filesystem',
        await measure(env, async () => {
          for (const b of batches(blobs)) await fsWrite(fsDir, b);
        }),
      );
      for (const [name, read] of Object.entries(readers)) {
        add(
          `read ${name}`,
          await measure(env, () => inParallel(hashes, CONCURRENCY, async (h) => check(h, await read(h)))),
        );
      }
      const decoder = new TextDecoder('utf-8', { fatal: true });
      add(
        'read filesystem',
        await measure(env, () =>
          inParallel(hashes, CONCURRENCY, async (h) =>
            check(h, decoder.decode(await readFile(join(fsDir, h.slice(0, 2), h)))),
          ),
        ),
      );
    }
    const stored = await pool.query<{ on_disk: string }>(
      `SELECT pg_total_relation_size('blobs')::text AS on_disk`,
    );
    const fsBytes = Number(execFileSync('du', ['-sb', fsDir], { encoding: 'utf8' }).split('\t')[0]);
    log(
      `stored: blobs table ${(Number(stored.rows[0]!.on_disk) / MB).toFixed(1)} MB (lz4), files ${(fsBytes / MB).toFixed(1)} MB`,
    );
    printTable(
      ['method', 'MB/s (wall)', 'wall ms', 'node CPU s', 'backend CPU s', 'node+backend CPU s'],
      [...results].map(([k, ms]) => [
        k,
        fmt(
          ms.map((m) => bytes / MB / (m.wallMs / 1000)),
          0,
        ),
        fmt(
          ms.map((m) => m.wallMs),
          0,
        ),
        fmt(ms.map((m) => m.nodeCpu)),
        fmt(ms.map((m) => m.pgCpu)),
        fmt(ms.map((m) => m.nodeCpu + m.pgCpu)),
      ]),
    );
  } finally {
    await env.teardown();
    await rm(fsDir, { recursive: true, force: true });
  }
}

await main();
