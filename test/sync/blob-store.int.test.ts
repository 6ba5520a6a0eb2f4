/**
 * The Postgres blob store on the real database: blobs go in as binary parameters and come out in
 * the binary result format (no hex either way), byte for byte, and read as the same text Postgres's
 * own convert_from(content, 'UTF8') gives — including its refusals (invalid UTF-8, NUL) — on the
 * real fixture documents; the column stays lz4-compressed (migration 0001).
 */
import { createHash } from 'node:crypto';
import type { QueryConfig } from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  BlobNotFoundError,
  InvalidUtf8Error,
  postgresBlobStore,
  type BlobStore,
} from '@lovsync/shared/blob-store';
import { hashBytes } from '@lovsync/shared/hash';
import { fixtureEntries } from '@lovsync/testkit/archive/archive-builder';
import { createTestEnv, type TestEnv } from '@lovsync/testkit/support/harness';
import { rows } from '@lovsync/testkit/support/context';

let env: TestEnv;
let store: BlobStore;
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const blob = async (content: Buffer) => ({ hash: await hashBytes(content), content });

beforeAll(async () => {
  env = await createTestEnv('blob_store');
  store = postgresBlobStore(env.database.pool);
});
afterAll(async () => {
  await env?.teardown();
});
beforeEach(async () => {
  await env.database.pool.query('TRUNCATE blobs CASCADE');
});

describe('postgres blob store', () => {
  it('stores the real fixture documents byte for byte and reads them as Postgres itself decodes them', async () => {
    const files = [...fixtureEntries('gjeldende-lover'), ...fixtureEntries('lovtidend-avd1-2025')].filter(
      (e) => e.path.endsWith('.xml'),
    );
    const blobs = await Promise.all(files.map((f) => blob(f.content as Buffer)));
    const distinct = new Map(blobs.map((b) => [b.hash, b]));
    expect(distinct.size).toBeGreaterThan(10);
    // Norwegian text: the fixtures hold multi-byte UTF-8 (æ, ø, å, §, –).
    const multiByte = [...distinct.values()].filter((b) => /[æøå§–]/.test(b.content.toString('utf8')));
    expect(multiByte.length).toBeGreaterThan(10);

    expect(await store.putMany(blobs)).toBe(distinct.size);
    expect(await store.putMany(blobs)).toBe(0); // already stored: nothing new
    expect(await store.existing([...distinct.keys()])).toEqual(new Set(distinct.keys()));

    const stored = await rows<{ hash: string; size: string; len: number; md5: string; text: string }>(
      env,
      `SELECT hash, size::text, octet_length(content) AS len, md5(content) AS md5,
              convert_from(content, 'UTF8') AS text FROM blobs`,
    );
    expect(stored).toHaveLength(distinct.size);
    for (const r of stored) {
      const b = distinct.get(r.hash)!;
      expect({ size: Number(r.size), len: r.len, md5: r.md5 }).toEqual({
        size: b.content.length,
        len: b.content.length,
        md5: md5(b.content),
      });
      const text = await store.readText(r.hash);
      expect(text).toBe(r.text);
      expect(text).toBe(b.content.toString('utf8'));
    }
  });

  it('keeps the blobs column lz4-compressed', async () => {
    const law = fixtureEntries('gjeldende-lover').find((e) => e.path.endsWith('.xml'))!.content as Buffer;
    const b = await blob(law);
    await store.putMany([b]);
    const [r] = await rows<{ c: string | null; stored: number }>(
      env,
      'SELECT pg_column_compression(content) AS c, pg_column_size(content) AS stored FROM blobs WHERE hash = $1',
      [b.hash],
    );
    expect(r).toEqual({ c: 'lz4', stored: expect.any(Number) });
    expect(r!.stored).toBeLessThan(law.length / 2);
  });

  it('writes many blobs in several statements, and on a client joins its transaction', async () => {
    const many = await Promise.all(
      Array.from({ length: 2500 }, (_, i) =>
        blob(Buffer.from(`<p>ledd ${i}: æøå § ${'x'.repeat(i % 50)}</p>`)),
      ),
    );
    expect(await store.putMany(many)).toBe(2500);
    const client = await env.database.pool.connect();
    try {
      await client.query('BEGIN');
      const extra = await blob(Buffer.from('<p>rolled back</p>'));
      expect(await postgresBlobStore(client).putMany([extra, ...many.slice(0, 10)])).toBe(1);
      await client.query('ROLLBACK');
      expect(await store.existing([extra.hash])).toEqual(new Set());
    } finally {
      client.release();
    }
    expect((await rows<{ n: number }>(env, 'SELECT count(*)::int AS n FROM blobs'))[0]!.n).toBe(2500);
    expect(await store.readText(many[1234]!.hash)).toBe(many[1234]!.content.toString('utf8'));
  });

  it('refuses what convert_from refuses, with InvalidUtf8Error; keeps a BOM as convert_from does', async () => {
    const law = fixtureEntries('gjeldende-lover').find((e) => e.path.endsWith('.xml'))!.content as Buffer;
    const bad = {
      'a broken two-byte sequence': Buffer.concat([
        law.subarray(0, 5000),
        Buffer.from([0xc3, 0x28, 0xff]),
        law,
      ]),
      'a multi-byte character cut at the end': Buffer.concat([
        Buffer.from('<a>blå</a>'),
        Buffer.from([0xc3]),
      ]),
      'an overlong encoding': Buffer.from([0x3c, 0xc0, 0xbc, 0x3e]),
      'a UTF-16 surrogate': Buffer.from([0x3c, 0xed, 0xa0, 0x80, 0x3e]),
      'a NUL byte': Buffer.from('<a>\0</a>'),
    };
    for (const [what, content] of Object.entries(bad)) {
      const b = await blob(content);
      await store.putMany([b]);
      await expect(
        env.database.pool.query(`SELECT convert_from(content, 'UTF8') FROM blobs WHERE hash = $1`, [b.hash]),
        what,
      ).rejects.toMatchObject({ code: '22021' });
      await expect(store.readText(b.hash), what).rejects.toBeInstanceOf(InvalidUtf8Error);
    }
    const bom = await blob(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('<a>ø</a>')]));
    await store.putMany([bom]);
    const [pgText] = await rows<{ t: string }>(
      env,
      `SELECT convert_from(content, 'UTF8') AS t FROM blobs WHERE hash = $1`,
      [bom.hash],
    );
    expect(await store.readText(bom.hash)).toBe(pgText!.t);
    expect(pgText!.t).toBe('\uFEFF<a>ø</a>');
  });

  it('(why reads stay convert_from) node-postgres hands back invalid UTF-8 of a binary-format field as U+FFFD', async () => {
    const b = await blob(Buffer.from([0x3c, 0x61, 0x3e, 0xc3, 0x28, 0x3c, 0x2f, 0x61, 0x3e]));
    await store.putMany([b]);
    // The binary result format, each field handed over as the Buffer the driver made of it.
    const config = {
      text: 'SELECT content FROM blobs WHERE hash = $1',
      values: [b.hash],
      binary: true,
      types: { getTypeParser: () => (raw: Buffer) => raw },
    };
    const res = await env.database.pool.query<{ content: Buffer }>(config as QueryConfig);
    expect(res.rows[0]!.content.equals(b.content)).toBe(false);
    expect(res.rows[0]!.content.toString('utf8')).toBe('<a>\uFFFD(</a>');
    await expect(store.readText(b.hash)).rejects.toBeInstanceOf(InvalidUtf8Error);
  });

  it('a hash that is not stored is BlobNotFoundError', async () => {
    await expect(store.readText('0'.repeat(32))).rejects.toBeInstanceOf(BlobNotFoundError);
  });
});
