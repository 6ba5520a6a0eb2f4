/** The `lovsync` CLI as users run it (`pnpm lovsync ...`), against the emulator and a real database. */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFixtureArchives } from '@lovsync/testkit/archive/archive-builder';
import { startEmulator, type Emulator } from '@lovsync/testkit/emulator/server';
import { createTestEnv, type TestEnv } from '@lovsync/testkit/support/harness';
import { rows } from '@lovsync/testkit/support/context';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const exec = promisify(execFile);
let env: TestEnv;
let emu: Emulator;

async function lovsync(args: string[], extraEnv: Record<string, string> = {}) {
  try {
    const r = await exec(process.execPath, ['apps/lovsync/bin/lovsync.js', ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env.env({ LOVDATA_API_URL: emu.url }), ...extraEnv },
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

beforeAll(async () => {
  env = await createTestEnv('cli');
  const dir = join(env.tmp, 'archives');
  await mkdir(dir, { recursive: true });
  await buildFixtureArchives(dir);
  emu = await startEmulator({ dir });
});
afterAll(async () => {
  await emu?.close();
  await env?.teardown();
});

describe('configuration errors', () => {
  it.each([
    ['DATABASE_URL', 'nonsense'],
    ['PARSER_CONCURRENCY', 'abc'],
  ])('%s=%s: exit 2 with one line naming the variable', async (name, value) => {
    const r = await lovsync(['migrate'], { [name]: value });
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^lovsync: invalid configuration: ${name} `));
  });
});

describe('migrate', () => {
  it('creates the database and every table on an empty server; running it again changes nothing', async () => {
    const url = new URL(env.databaseUrl);
    url.pathname = `/${env.name}_fresh`;
    const fresh = { DATABASE_URL: url.toString() };
    const first = await lovsync(['migrate'], fresh);
    expect(first).toMatchObject({ code: 0 });
    expect(first.stdout).toContain('database created');
    const tables = `SELECT string_agg(table_name, ',' ORDER BY table_name) AS t FROM information_schema.tables WHERE table_schema = 'public'`;
    const pg = await import('pg');
    const client = new pg.default.Client({ connectionString: url.toString() });
    await client.connect();
    try {
      const before = (await client.query(tables)).rows[0].t as string;
      for (const t of [
        'blobs',
        'chunks',
        'cross_references',
        'datasets',
        'document_changes',
        'documents',
        'file_changes',
        'files',
        'section_changes',
        'sections',
        'sync_runs',
      ]) {
        expect(before.split(',')).toContain(t);
      }
      const schemaDigest = `SELECT md5(string_agg(table_name || '.' || column_name || ':' || data_type, ',' ORDER BY table_name, column_name)) AS d FROM information_schema.columns WHERE table_schema = 'public'`;
      const d1 = (await client.query(schemaDigest)).rows[0].d;
      const second = await lovsync(['migrate'], fresh);
      expect(second.code).toBe(0);
      expect(second.stdout).not.toContain('database created');
      expect((await client.query(schemaDigest)).rows[0].d).toBe(d1);
    } finally {
      await client.end();
      const admin = new pg.default.Client({ connectionString: env.databaseUrl });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS "${env.name}_fresh" WITH (FORCE)`);
      await admin.end();
    }
  });
});

describe('run and the query commands', () => {
  it('`lovsync run` syncs, diffs and parses the emulator datasets, exits 0, and the query commands report it', async () => {
    const r = await lovsync(['run', '--json']);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.run).toMatchObject({
      status: 'succeeded',
      filesAdded: 21,
      parseSucceeded: 21,
      parseFailed: 0,
    });
    expect(await rows(env, `SELECT document_id FROM documents WHERE status = 'active'`)).toHaveLength(21);

    const again = await lovsync(['run', '--force']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/run 2 succeeded/);
    expect(again.stdout).toMatch(/0 added, 0 modified, 0 removed/);

    const list = JSON.parse(
      (
        await lovsync([
          'files',
          'list',
          '--status',
          'unchanged',
          '--dataset',
          'gjeldende-lover.tar.bz2',
          '--json',
        ])
      ).stdout,
    );
    expect(list).toHaveLength(8);
    const limited = JSON.parse((await lovsync(['files', 'list', '--limit', '3', '--json'])).stdout);
    expect(limited).toHaveLength(3);
    const stats = JSON.parse((await lovsync(['files', 'stats', '--json'])).stdout);
    expect(stats).toEqual([
      expect.objectContaining({ dataset: 'gjeldende-lover.tar.bz2', total: 8, unchanged: 8 }),
      expect.objectContaining({ dataset: 'lovtidend-avd1-2025.tar.bz2', total: 13, unchanged: 13 }),
    ]);
    const runs = JSON.parse((await lovsync(['runs', '--json'])).stdout);
    expect(runs.map((x: { id: number; status: string }) => [x.id, x.status])).toEqual([
      [2, 'succeeded'],
      [1, 'succeeded'],
    ]);
    const changes = JSON.parse((await lovsync(['changes', '--run', '1', '--json'])).stdout);
    expect(changes.files).toHaveLength(21);
    expect(changes.documents).toHaveLength(21);
    const table = await lovsync(['files', 'list', '--limit', '2']);
    expect(table.stdout.split('\n')[0]).toMatch(/^dataset\s+path\s+status\s+hash/);
    const prune = await lovsync(['files', 'prune', '--dry-run']);
    expect(prune.stdout).toMatch(/would prune 0 removed file\(s\)/);
    const bad = await lovsync(['changes', '--run', 'x']);
    expect(bad.code).not.toBe(0);
  });

  it('import-lovlig adopts a lovlig state so the next sync reports only real changes', async () => {
    const files = await rows<{ dataset: string; path: string; hash: string; size: number }>(
      env,
      'SELECT dataset, path, hash, size FROM files',
    );
    const state = {
      raw_datasets: Object.fromEntries(
        ['gjeldende-lover.tar.bz2', 'lovtidend-avd1-2025.tar.bz2'].map((ds) => [
          ds,
          {
            filename: ds,
            last_modified: '2020-01-01T00:00:00Z',
            files: Object.fromEntries(
              files
                .filter((f) => f.dataset === ds)
                .map((f) => [
                  `${ds.replace('.tar.bz2', '')}/${f.path}`,
                  { path: f.path, size: Number(f.size), xxhash: f.hash, status: 'unchanged' },
                ]),
            ),
          },
        ]),
      ),
    };
    const url = new URL(env.databaseUrl);
    url.pathname = `/${env.name}_lovlig`;
    const other = { DATABASE_URL: url.toString(), QUEUE_PREFIX: `${env.prefix}-lovlig` };
    const file = join(env.tmp, 'state.json');
    await writeFile(file, JSON.stringify(state));
    const imp = await lovsync(['import-lovlig', file], other);
    expect(imp.code).toBe(0);
    expect(imp.stdout).toMatch(/imported 21 file\(s\) of 2 dataset\(s\)/);
    const run = await lovsync(['run', '--json'], other);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).run).toMatchObject({
      filesAdded: 0,
      filesModified: 0,
      filesRemoved: 0,
      filesUnchanged: 21,
    });
    const bad = join(env.tmp, 'bad.json');
    await writeFile(bad, '{"raw_datasets": {"x.tar.bz2": {"files": {"a": {"path": "a", "xxhash": "zz"}}}}}');
    const rejected = await lovsync(['import-lovlig', bad], other);
    expect(rejected.code).toBe(1);
    expect(rejected.stderr).toMatch(/no XXH3-128 hash/);
    const pg = await import('pg');
    const admin = new pg.default.Client({ connectionString: env.databaseUrl });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS "${env.name}_lovlig" WITH (FORCE)`);
    await admin.end();
  });
});
