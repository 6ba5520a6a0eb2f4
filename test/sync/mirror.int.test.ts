/**
 * EXTRACT_DIR and lovlig state files (issue 16): the mirror holds committed versions only and is
 * made complete by --force; import-lovlig reads lovlig's real schema and refuses names and paths
 * the sync itself would refuse; nothing lovsync writes or removes leaves its root.
 */
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { importLovligState } from '@lovsync/sync';
import { extractPath } from '../../services/sync/src/extract-dir.ts';
import { buildTarBz2, corruptBzip2Block, fixtureEntries } from '@lovsync/testkit/archive/archive-builder';
import { startEmulator, type Emulator } from '@lovsync/testkit/emulator/server';
import { createTestEnv, type TestEnv } from '@lovsync/testkit/support/harness';
import { createTestContext, rows } from '@lovsync/testkit/support/context';
import { syncAndDiff } from '@lovsync/testkit/support/cycle';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const exec = promisify(execFile);
const DS = 'gjeldende-lover.tar.bz2';
const HUSLEIE = 'nl/nl-19990326-017.xml';
let env: TestEnv;
let emu: Emulator;
let archives: string;
let extractDir: string;

async function sync(overrides: Record<string, string> = {}, force = false) {
  const ctx = createTestContext(env, {
    LOVDATA_API_URL: emu.url,
    LOVDATA_DATASET_FILTER: 'gjeldende',
    ...overrides,
  });
  try {
    return await syncAndDiff(ctx, force);
  } finally {
    await ctx.close();
  }
}

/** Every file under dir with its content, staging area included. */
async function tree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string) => {
    let names: string[];
    try {
      names = await readdir(d);
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(d, n);
      if ((await stat(p)).isDirectory()) await walk(p);
      else out[relative(dir, p)] = (await readFile(p)).toString('base64').slice(0, 64);
    }
  };
  await walk(dir);
  return out;
}

beforeAll(async () => {
  env = await createTestEnv('mirror');
  archives = join(env.tmp, 'archives');
  await mkdir(archives, { recursive: true });
  emu = await startEmulator({ dir: archives });
});
afterAll(async () => {
  await emu?.close();
  await env?.teardown();
});
beforeEach(async () => {
  await env.database.pool.query(
    'TRUNCATE files, file_changes, run_datasets, sync_runs, datasets, manifest_entries, blobs RESTART IDENTITY CASCADE',
  );
  extractDir = join(env.tmp, `extract-${Math.random().toString(36).slice(2)}`);
  await buildTarBz2(fixtureEntries('gjeldende-lover'), join(archives, DS));
});

describe('EXTRACT_DIR', () => {
  it('set after the first sync: --force makes the mirror complete', async () => {
    await sync();
    await sync({ EXTRACT_DIR: extractDir }, true);
    const files = await tree(join(extractDir, 'gjeldende-lover'));
    expect(Object.keys(files).sort()).toEqual(
      fixtureEntries('gjeldende-lover')
        .map((e) => e.path)
        .sort(),
    );
    for (const e of fixtureEntries('gjeldende-lover'))
      expect(await readFile(join(extractDir, 'gjeldende-lover', e.path))).toEqual(e.content as Buffer);
  });

  it.each([
    [
      'a hostile entry late in the archive',
      (edited: ReturnType<typeof fixtureEntries>) =>
        buildTarBz2(
          [...edited, { path: 'zz/link.xml', type: 'symlink', linkname: '/etc/passwd' }],
          join(archives, DS),
        ),
    ],
    [
      'a corrupt block',
      async (edited: ReturnType<typeof fixtureEntries>) => {
        await buildTarBz2(edited, join(archives, DS));
        await corruptBzip2Block(join(archives, DS));
      },
    ],
  ])('a dataset refused for %s leaves the mirror as the last committed sync left it', async (_n, build) => {
    await sync({ EXTRACT_DIR: extractDir });
    const before = await tree(extractDir);
    expect(Object.keys(before).length).toBe(8);
    // Every file edited (so each would be written), then the archive goes bad near its end.
    const edited = fixtureEntries('gjeldende-lover').map((e) => ({
      ...e,
      content: Buffer.concat([e.content as Buffer, Buffer.from('<!-- edited -->')]),
    }));
    await build(edited);
    const r = await sync({ EXTRACT_DIR: extractDir }, true);
    expect(r.results[0]).toMatchObject({ outcome: 'failed' });
    expect(await tree(extractDir)).toEqual(before);
  });

  it('a good sync after a refused one updates the mirror', async () => {
    await sync({ EXTRACT_DIR: extractDir });
    const edited = fixtureEntries('gjeldende-lover').map((e) =>
      e.path === HUSLEIE ? { ...e, content: Buffer.concat([e.content as Buffer, Buffer.from('\n')]) } : e,
    );
    await buildTarBz2(edited, join(archives, DS));
    await sync({ EXTRACT_DIR: extractDir }, true);
    expect((await readFile(join(extractDir, 'gjeldende-lover', HUSLEIE))).toString()).toMatch(/\n$/);
    expect(Object.keys(await tree(extractDir)).length).toBe(8);
  });

  it('refuses a dataset or path that resolves outside its root', () => {
    expect(() => extractPath(extractDir, '../../evil.tar.bz2', 'a.xml')).toThrow(/outside/);
    expect(() => extractPath(extractDir, DS, '../../../etc/x')).toThrow(/outside/);
    expect(() => extractPath(extractDir, '..', 'x')).toThrow(/outside/);
    expect(extractPath(extractDir, DS, 'nl/a.xml')).toBe(join(extractDir, 'gjeldende-lover', 'nl', 'a.xml'));
  });
});

/** A state file exactly in lovlig's schema (martgra/lovlig: FileMetadata.sha256 holds the XXH3-128). */
function lovligState(files: { dataset: string; path: string; hash: string; size: number }[]) {
  const datasets = [...new Set(files.map((f) => f.dataset))];
  return {
    raw_datasets: Object.fromEntries(
      datasets.map((ds) => [
        ds,
        {
          filename: ds,
          last_modified: '2020-01-01T00:00:00+00:00',
          files: Object.fromEntries(
            files
              .filter((f) => f.dataset === ds)
              .map((f) => [
                `${ds.replace(/\.tar\.bz2$/, '')}/${f.path}`,
                {
                  path: `${ds.replace(/\.tar\.bz2$/, '')}/${f.path}`,
                  size: Number(f.size),
                  sha256: f.hash,
                  last_changed: '2020-01-01T00:00:00+00:00',
                  status: 'unchanged',
                },
              ]),
          ),
        },
      ]),
    ),
  };
}

describe('import-lovlig', () => {
  it("accepts lovlig's real state format (the XXH3-128 in `sha256`): the next sync adds nothing", async () => {
    await sync();
    const files = await rows<{ dataset: string; path: string; hash: string; size: number }>(
      env,
      'SELECT dataset, path, hash, size FROM files',
    );
    await env.database.pool.query(
      'TRUNCATE files, file_changes, run_datasets, sync_runs, datasets, manifest_entries RESTART IDENTITY CASCADE',
    );
    const file = join(env.tmp, 'lovlig-state.json');
    await writeFile(file, JSON.stringify(lovligState(files)));
    expect(await importLovligState(env, file)).toEqual({ datasets: 1, files: 8 });
    const r = await sync();
    expect(r.results[0]).toMatchObject({ outcome: 'manifested', files: 8 });
    expect(await rows(env, 'SELECT * FROM file_changes')).toEqual([]);
  });

  const hash = '0123456789abcdef0123456789abcdef';
  it.each([
    ['../../outside.tar.bz2', 'nl/a.xml', /not an archive file name/],
    ['/tmp/abs.tar.bz2', 'nl/a.xml', /not an archive file name/],
    [DS, '../../../outside.xml', /escapes its directory/],
    [DS, '/etc/passwd', /absolute path/],
    [DS, 'nl\\..\\x.xml', /Windows-style/],
  ])('dataset %s, path %s: refused, nothing imported', async (dataset, path, error) => {
    const file = join(env.tmp, 'crafted.json');
    const state = {
      raw_datasets: {
        [dataset]: {
          filename: dataset,
          last_modified: null,
          files: { [path]: { path, size: 1, sha256: hash } },
        },
      },
    };
    await writeFile(file, JSON.stringify(state));
    await expect(importLovligState(env, file)).rejects.toThrow(error);
    expect(await rows(env, 'SELECT * FROM files')).toEqual([]);
    expect(await rows(env, 'SELECT * FROM datasets')).toEqual([]);
  });

  it('files prune refuses to remove a file outside EXTRACT_DIR, whatever the database says', async () => {
    // EXTRACT_DIR is <extractDir>/sub; the row's dataset `../x` points at the sibling <extractDir>/x.
    const outside = join(extractDir, 'x', 'outside.xml');
    await mkdir(join(extractDir, 'x'), { recursive: true });
    await writeFile(outside, 'keep me');
    // A row no validated import or sync can write: as if the database had been edited by hand.
    await env.database.pool.query(
      `INSERT INTO files (dataset, path, hash, size, status) VALUES ('../x.tar.bz2', 'outside.xml', $1, 1, 'removed')`,
      [hash],
    );
    const r = await exec(process.execPath, ['apps/lovsync/bin/lovsync.js', 'files', 'prune'], {
      cwd: ROOT,
      env: { ...process.env, ...env.env({ EXTRACT_DIR: join(extractDir, 'sub') }) },
    }).then(
      (x) => ({ code: 0, stderr: x.stderr }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/refusing a path outside/);
    expect(await readFile(outside, 'utf8')).toBe('keep me');
    await rm(outside);
  });
});
