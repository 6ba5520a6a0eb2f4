/**
 * The sync's read path (issue 15, incremental speed): one lbzip2 decode at a time per process (it
 * already uses every core), the decoder reads the archive file itself, and an unchanged file's
 * content is hashed part by part and never joined, held or sent to Postgres.
 */
import { rm, mkdtemp } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  acquireDecodeSlot,
  decodeSlotsFor,
  type EntryBody,
  readArchive,
} from '../../services/sync/src/archive-entries.ts';
import { ManifestWriter } from '../../services/sync/src/manifest-writer.ts';
import { createRun } from '@lovsync/shared/db';
import { hashBytes } from '@lovsync/shared/hash';
import { buildTarBz2, fixtureEntries } from '@lovsync/testkit/archive/archive-builder';
import { createTestEnv, type TestEnv } from '@lovsync/testkit/support/harness';
import { requireTool } from '@lovsync/testkit/support/optional-tools';
import { rows } from '@lovsync/testkit/support/context';

const LIMITS = { maxEntryBytes: 1 << 30, maxTotalBytes: 1 << 30, maxEntries: 1_000_000 };
const tick = () => new Promise((r) => setTimeout(r, 5));

describe('decode slots', () => {
  it('lbzip2 gets one slot per process, the single-core decoders one per core', () => {
    expect(decodeSlotsFor('lbzip2')).toBe(1);
    expect(decodeSlotsFor('bzip2')).toBe(Math.max(1, availableParallelism()));
    expect(decodeSlotsFor('js')).toBe(Math.max(1, availableParallelism()));
  });

  it('a second lbzip2 decode waits for the first; the largest waiting archive goes next, equals in order; a double release frees one slot', async () => {
    const order: string[] = [];
    const first = await acquireDecodeSlot('lbzip2');
    const waiting = ['b', 'c'].map((name) =>
      acquireDecodeSlot('lbzip2').then((release) => {
        order.push(name);
        return release;
      }),
    );
    await tick();
    expect(order).toEqual([]); // both wait while the first holds the slot
    // A larger archive that arrives later still goes before the smaller ones waiting.
    const big = acquireDecodeSlot('lbzip2', 10_000_000).then((release) => {
      order.push('big');
      return release;
    });
    await tick();
    first();
    first(); // idempotent: must not let two waiters in at once
    const releaseBig = await big;
    await tick();
    expect(order).toEqual(['big']);
    releaseBig();
    const releaseB = await waiting[0]!;
    await tick();
    expect(order).toEqual(['big', 'b']); // then the equal ones in arrival order
    releaseB();
    const releaseC = await waiting[1]!;
    expect(order).toEqual(['big', 'b', 'c']);
    releaseC();
    // Free again: the next acquire does not wait.
    const again = await Promise.race([acquireDecodeSlot('lbzip2'), tick().then(() => null)]);
    expect(again).not.toBeNull();
    again!();
  });
});

describe('the decoder reads the file', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'decode-path-'));
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  for (const decoder of ['lbzip2', 'bzip2', 'js'] as const) {
    it(`${decoder}: entries arrive whole, as parts that join to the file (or the missing tool is reported)`, async (t) => {
      if (decoder !== 'js') requireTool(t, decoder);
      const entries = fixtureEntries('gjeldende-lover');
      const file = join(tmp, `lover-${decoder}.tar.bz2`);
      await buildTarBz2(entries, file);
      const seen = new Map<string, EntryBody>();
      await readArchive(file, { decoder, limits: LIMITS, onEntry: (p, body) => void seen.set(p, body) });
      expect(seen.size).toBe(entries.length);
      let multiPart = 0;
      for (const e of entries) {
        const body = seen.get(e.path)!;
        const want = e.content as Buffer;
        expect(body.size).toBe(want.length);
        expect(Buffer.concat([...body.parts]).equals(want)).toBe(true);
        expect(body.bytes().equals(want)).toBe(true);
        expect(body.bytes()).toBe(body.bytes()); // joined once
        if (body.parts.length > 1) multiPart++;
      }
      // Through a child's pipe (64 KB reads) the larger laws arrive in several parts, so the
      // part-by-part path is exercised; the JS decoder hands over whole 900 KB blocks.
      if (decoder !== 'js') expect(multiPart).toBeGreaterThan(0);
    });
  }
});

describe('ManifestWriter', () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await createTestEnv('decode_path');
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it("asks for a file's content only when its hash is not the stored current one", async () => {
    const [a, b, c] = fixtureEntries('gjeldende-lover').map((e) => e.content as Buffer);
    const hashA = await hashBytes(a!);
    const hashB = await hashBytes(b!);
    const hashC = await hashBytes(c!);
    const runId = await createRun(env.database.pool, {
      trigger: 'manual',
      force: false,
      datasetFilter: null,
    });
    const client = await env.database.pool.connect();
    const asked: string[] = [];
    const content = (name: string, buf: Buffer) => () => {
      asked.push(name);
      return buf;
    };
    try {
      await client.query('BEGIN');
      // a.xml is current and stored; b.xml was current with another hash; c.xml is new.
      const writer = new ManifestWriter(
        client,
        runId,
        'ds.tar.bz2',
        new Map([
          ['a.xml', hashA],
          ['b.xml', hashC],
        ]),
      );
      await writer.add({ path: 'a.xml', hash: hashA, size: a!.length }, content('a', a!));
      await writer.add({ path: 'b.xml', hash: hashB, size: b!.length }, content('b', b!));
      await writer.add({ path: 'c.xml', hash: hashC, size: c!.length }, content('c', c!));
      await writer.finish();
      await client.query('COMMIT');
      expect(asked).toEqual(['b', 'c']);
      expect(writer.rows).toBe(3);
      expect(writer.newBlobs).toBe(2);
    } finally {
      client.release();
    }
    const blobs = await rows<{ hash: string }>(env, 'SELECT hash FROM blobs ORDER BY hash');
    expect(blobs.map((r) => r.hash)).toEqual([hashB, hashC].sort());
    const manifest = await rows<{ path: string; hash: string }>(
      env,
      'SELECT path, hash FROM manifest_entries WHERE run_id = $1 ORDER BY path',
      [runId],
    );
    expect(manifest).toEqual([
      { path: 'a.xml', hash: hashA },
      { path: 'b.xml', hash: hashB },
      { path: 'c.xml', hash: hashC },
    ]);
  });
});
