/**
 * bench/corpus (issue 15): the whole pipeline on a corpus of >= BENCH_CORPUS_MB (default 500) MB of
 * XML against lovlig's core work on the same archives.
 *
 * Corpus: the real sample archives in ../shared/corpus (gjeldende-lover, gjeldende-sentrale-
 * forskrifter, lovtidend-avd1-2001-2024: 2,557 documents, 100.8 MB of XML), each archive grown with
 * copies of its own documents until the three hold the size asked for. Copy k of a document gets a
 * new identity, consistently: file name number + k*100000 (`nl-19990326-017.xml` ->
 * `nl-19990326-300017.xml`), the same for its refid/dokid/self links (`lov/1999-03-26-17` ->
 * `lov/1999-03-26-300017`) and legacyID, " (kopi k)" in its title and "Kopi k." in one ledd. A
 * partial last copy takes documents in a hash order until the size is reached. The edited variant
 * (the incremental run) has 1% of the files edited (one ledd each, the testkit's EDIT_MARKER).
 * Archives are compressed by lbzip2 when on PATH (else bzip2) and cached in bench/.work/corpus-<MB>
 * (keyed by size and this spec), so a rerun starts at once.
 *
 * Runs, per repetition (REPS, default 1):
 *  - lovlig's core work (bench/lovlig-ref/lovlig-ref.c: tar.bz2 -> write every file -> XXH3-128 of
 *    each), with lbzip2 -dc -n<cores> through a pipe (the fastest decoder here; this is THE
 *    reference the ratios use) and, on the first repetition, with in-process libbz2 on one core
 *    (what lovlig's Python bz2 does, for orientation);
 *  - a cold `lovsync run --json` (a fresh, migrated database; the real CLI, apps/lovsync/bin/lovsync.js
 *    as `pnpm lovsync` runs it (from TypeScript sources when profiling), in a child process, with
 *    the sync, diff and parse workers in-process) fed by the Lovdata API emulator (its own process)
 *    over HTTP; its files are then cross-checked against the reference's manifest (every path and
 *    XXH3-128) and the derived rows counted;
 *  - BENCH_INCREMENTAL_REPS (default 3) incremental `lovsync run --json`s, each right after lovlig's
 *    core work on the same archives (its own reference: this machine's speed drifts by 2-3x within
 *    minutes, so each ratio compares two runs seconds apart): first the edited variant (1% of files
 *    edited), then the cold one again (the same 1% reverted), alternating; the verdict takes the
 *    median ratio, and the files after the last one are cross-checked against its reference.
 * It prints wall times, ratios to the reference, the peak RSS and CPU of every process (sampled
 * from /proc: lovsync and its lbzip2 children, the emulator, the reference and its lbzip2), the CPU
 * of the Postgres backends of the run's database, and of Redis and Postgres's background processes
 * (machine-wide: upper bounds). Each run's figures are appended to bench/.work/corpus-results.jsonl,
 * and the peak RSS of `lovsync run` is printed for every corpus size measured so far.
 *
 *   pnpm bench:corpus                         (500 MB, one repetition)
 *   BENCH_CORPUS_MB=60 pnpm bench:corpus      (a quick run, ~1-2 min)
 *   BENCH_PROFILE=1 pnpm bench:corpus         (also node --cpu-prof of the cold run, summarised)
 *   REPS=2 BENCH_REF_LIBBZ2=0 ...             (two repetitions; skip the single-core reference)
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { appendFile, link, mkdir, readdir, readFile, rm, unlink, utimes } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { EDIT_MARKER, buildTarBz2, type ArchiveEntry } from '@lovsync/testkit/archive/archive-builder';
import { hashString, pickIndices, seededRandom } from '@lovsync/testkit/archive/seeded-random';
import { CORPUS_ARCHIVES, CORPUS_DIR, corpusAvailable, corpusEntries } from '@lovsync/testkit/support/corpus';
import { createTestEnv, type TestEnv } from '@lovsync/testkit/support/harness';
import type { RunCycleResult } from '@lovsync/app/compose/run-cycle';
import { sampleBackendCpu } from './lib/backend-sampler.ts';
import { machineCpuSeconds, processCpuSeconds } from './lib/cpu.ts';
import { summariseProfiles } from './lib/cpuprofile.ts';
import { collectOutput, ROOT, timeShell } from './lib/proc.ts';
import { resetPeakRss, watchProcessTree, type ProcessSample } from './lib/proc-tree.ts';
import { waitForQuiet } from './lib/quiet.ts';
import { serverCpuSeconds } from './lib/server-cpu.ts';
import { log, MB, MiB, printTable, verdict } from './lib/stats.ts';
import { cachedDir, WORK_DIR } from './lib/work.ts';

const SIZE_MB = Number(process.env.BENCH_CORPUS_MB ?? 500);
const REPS = Number(process.env.REPS ?? 1);
const PROFILE = process.env.BENCH_PROFILE === '1';
const REF_LIBBZ2 = process.env.BENCH_REF_LIBBZ2 !== '0';
const EDIT_FRACTION = 0.01;
const EDIT_SEED = 15;
const COPY_STRIDE = 100_000;
const COLD_MTIME = new Date('2026-07-01T01:31:00Z');
const EDITED_MTIME = new Date('2026-07-02T01:31:00Z');
/**
 * This machine's Postgres runs with autovacuum = off (its conf.d/90-ci.conf); a user's server has it
 * on. Without statistics, lovsync_record_changes' NOT EXISTS on chunk_changes gets a hash anti-join
 * over every chunk_changes row of the run, once per document: a cold run turns quadratic (200-650 ms
 * per document at 55k rows, 0.4 ms once analyzed). So by default the bench does what autovacuum's
 * analyze would: every AUTOVACUUM_NAPTIME_MS, ANALYZE each table of the run's database with more
 * than 50 + 10% of its rows changed since its last analyze (autovacuum's default thresholds). Its
 * CPU is counted with the Postgres backends. BENCH_EMULATE_AUTOVACUUM=0 turns it off;
 * BENCH_ANALYZE_EVERY_S (default 60, autovacuum_naptime's default) sets the interval: a short one
 * shows what the run costs once the first minute's stats-less plans are gone.
 */
/**
 * BENCH_PG_SOCKET_DIR (e.g. /var/run/postgresql): the lovsync process reaches Postgres through the
 * Unix socket in that directory instead of TCP on 127.0.0.1 (an experiment: loopback TCP costs
 * the sender the receiver's protocol processing too).
 */
const PG_SOCKET_DIR = process.env.BENCH_PG_SOCKET_DIR ?? '';
const EMULATE_AUTOVACUUM = process.env.BENCH_EMULATE_AUTOVACUUM !== '0';
const AUTOVACUUM_NAPTIME_MS = Number(process.env.BENCH_ANALYZE_EVERY_S ?? 60) * 1000;
const INCREMENTAL_REPS = Number(process.env.BENCH_INCREMENTAL_REPS ?? 3);
const TARGETS = { cold: 1.5, incremental: 1.0, rssMiB: 350 };
const SPEC = `corpus-v1 ${JSON.stringify({ SIZE_MB, EDIT_FRACTION, EDIT_SEED, COPY_STRIDE })}`;

if (!Number.isFinite(SIZE_MB) || SIZE_MB <= 0) throw new Error(`BENCH_CORPUS_MB must be > 0, got ${SIZE_MB}`);
if (!(AUTOVACUUM_NAPTIME_MS >= 1000)) throw new Error('BENCH_ANALYZE_EVERY_S must be >= 1');
if (!Number.isInteger(REPS) || REPS < 1) throw new Error(`REPS must be a positive integer, got ${REPS}`);
if (!Number.isInteger(INCREMENTAL_REPS) || INCREMENTAL_REPS < 1)
  throw new Error(`BENCH_INCREMENTAL_REPS must be a positive integer, got ${INCREMENTAL_REPS}`);

// --- corpus ------------------------------------------------------------------------------------

interface Member {
  archive: string;
  path: string;
  xml: string;
  bytes: number;
  /** `lov/1999-03-26-17` (dokid without its first segment), or null when the file has no dokid. */
  refid: string | null;
  legacyId: string | null;
  hasLedd: boolean;
}

interface CorpusMeta {
  files: number;
  bytes: number;
  edited: number;
  copies: number;
  archives: { name: string; files: number; bytes: number; coldBytes: number; editedBytes: number }[];
}

const LEGAL_P = /<article\b[^>]*\bclass="legalP"[^>]*>/g;
const FILE_NUMBER = /^([a-z]+-\d{8}-)(\d+)((?:-[a-z]{2,3})?\.xml)$/;

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** `lov/1999-03-26-17` -> `lov/1999-03-26-300017` for k = 3; a date-only id gets the number k*100000. */
function renumberId(id: string, copy: number): string {
  const m = /^(.*\d{4}-\d{2}-\d{2})(?:-(\d+))?$/.exec(id);
  if (!m) return `${id}-${copy * COPY_STRIDE}`;
  return `${m[1]!}-${copy * COPY_STRIDE + Number(m[2] ?? 0)}`;
}

function copyPath(path: string, copy: number): string {
  if (copy === 0) return path;
  const slash = path.lastIndexOf('/');
  const m = FILE_NUMBER.exec(path.slice(slash + 1));
  if (!m) throw new Error(`not a Lovdata file name: ${path}`);
  return `${path.slice(0, slash + 1)}${m[1]!}${copy * COPY_STRIDE + Number(m[2]!)}${m[3]!}`;
}

/** Inserts `text` at the start of one ledd chosen by `seed`; null when the document has none. */
function intoLedd(xml: string, text: (random: () => number) => string, seed: number): string | null {
  const openings = [...xml.matchAll(LEGAL_P)].filter((m) => !m[0].endsWith('/>'));
  if (openings.length === 0) return null;
  const random = seededRandom(seed);
  const opening = openings[Math.floor(random() * openings.length)]!;
  const at = opening.index + opening[0].length;
  return `${xml.slice(0, at)}${text(random)}${xml.slice(at)}`;
}

function copyXml(member: Member, copy: number): string {
  if (copy === 0) return member.xml;
  let xml = member.xml;
  for (const id of [member.refid, member.legacyId]) {
    if (id) xml = xml.replace(new RegExp(`${escapeRe(id)}(?![\\d-])`, 'g'), renumberId(id, copy));
  }
  xml = xml.replace('</title>', ` (kopi ${copy})</title>`);
  return intoLedd(xml, () => `Kopi ${copy}. `, hashString(`copy:${copy}:${member.path}`)) ?? xml;
}

function editedXml(xml: string, path: string): string {
  const edited = intoLedd(
    xml,
    (random) =>
      `${EDIT_MARKER} ${Math.floor(random() * 0xffffffff)
        .toString(16)
        .padStart(8, '0')}. `,
    hashString(`${EDIT_SEED}:${path}`),
  );
  if (edited === null) throw new Error(`${path}: no ledd to edit`);
  return edited;
}

async function loadMembers(tmp: string): Promise<Member[]> {
  const members: Member[] = [];
  for (const archive of CORPUS_ARCHIVES) {
    for (const entry of corpusEntries(archive, tmp)) {
      const xml = (entry.content as Buffer).toString('utf8');
      const dokid = /<dd class="dokid">([^<]*)<\/dd>/.exec(xml)?.[1] ?? null;
      members.push({
        archive,
        path: entry.path,
        xml,
        bytes: (entry.content as Buffer).length,
        refid: dokid && dokid.includes('/') ? dokid.slice(dokid.indexOf('/') + 1) : null,
        legacyId: /<dd class="legacyID">([^<]*)<\/dd>/.exec(xml)?.[1] ?? null,
        hasLedd: [...xml.matchAll(LEGAL_P)].some((m) => !m[0].endsWith('/>')),
      });
    }
  }
  return members;
}

async function buildCorpus(dir: string): Promise<CorpusMeta> {
  if (!corpusAvailable()) throw new Error(`the real sample archives are missing in ${CORPUS_DIR}`);
  log(`building a ${SIZE_MB} MB corpus from ${CORPUS_DIR} (cached in ${dir})...`);
  const tmp = join(dir, 'unpacked');
  const members = await loadMembers(tmp);
  await rm(tmp, { recursive: true, force: true });
  const sampleBytes = members.reduce((n, m) => n + m.bytes, 0);
  const target = SIZE_MB * MB;
  // Whole copies of the sample, then a partial one in a hash order of the paths.
  const items: { member: Member; copy: number }[] = [];
  const full = Math.floor(target / sampleBytes);
  for (let copy = 0; copy < full; copy++) for (const member of members) items.push({ member, copy });
  let bytes = full * sampleBytes;
  const byHash = [...members].sort((a, b) => hashString(a.path) - hashString(b.path));
  for (const member of byHash) {
    if (bytes >= target) break;
    items.push({ member, copy: full });
    bytes += member.bytes; // within a few bytes: copies add " (kopi k)" and "Kopi k. "
  }
  const eligible = items.flatMap((item, i) => (item.member.hasLedd ? [i] : []));
  const count = Math.round(EDIT_FRACTION * items.length);
  const edited = new Set(pickIndices(eligible.length, count, EDIT_SEED).map((i) => eligible[i]!));
  const meta: CorpusMeta = { files: 0, bytes: 0, edited: edited.size, copies: full + 1, archives: [] };
  await mkdir(join(dir, 'cold'));
  await mkdir(join(dir, 'edited'));
  for (const archive of CORPUS_ARCHIVES) {
    const mine = items
      .map((item, index) => ({ ...item, index, path: copyPath(item.member.path, item.copy) }))
      .filter((item) => item.member.archive === archive)
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    let archiveBytes = 0;
    const entries = function* (withEdits: boolean): Generator<ArchiveEntry> {
      for (const item of mine) {
        let xml = copyXml(item.member, item.copy);
        if (withEdits && edited.has(item.index)) xml = editedXml(xml, item.path);
        const content = Buffer.from(xml, 'utf8');
        if (!withEdits) archiveBytes += content.length;
        yield { path: item.path, content };
      }
    };
    const coldFile = join(dir, 'cold', archive);
    const editedFile = join(dir, 'edited', archive);
    const cold = await buildTarBz2(entries(false), coldFile);
    const changed = await buildTarBz2(entries(true), editedFile);
    await utimes(coldFile, COLD_MTIME, COLD_MTIME);
    await utimes(editedFile, EDITED_MTIME, EDITED_MTIME);
    meta.archives.push({
      name: archive,
      files: mine.length,
      bytes: archiveBytes,
      coldBytes: cold.bytes,
      editedBytes: changed.bytes,
    });
    meta.files += mine.length;
    meta.bytes += archiveBytes;
    log(
      `  ${archive}: ${mine.length} files, ${(archiveBytes / MB).toFixed(1)} MB XML, ` +
        `${(cold.bytes / MB).toFixed(1)} MB tar.bz2`,
    );
  }
  return meta;
}

// --- processes ---------------------------------------------------------------------------------

interface Emulator {
  url: string;
  pid: number;
  close(): Promise<void>;
}

/** The Lovdata API emulator in its own process (so its RSS and CPU are its own). */
async function startEmulatorProcess(dir: string): Promise<Emulator> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'packages/testkit/src/emulator/cli.ts', '--dir', dir, '--port', '0'],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const url = await new Promise<string>((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => reject(new Error(`emulator not up in 30 s: ${stderr}`)), 30_000);
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
      const m = /LOVDATA_API_URL=(\S+)/.exec(stdout);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`emulator exited ${code}: ${stderr}`));
    });
  });
  child.removeAllListeners('exit');
  return {
    url,
    pid: child.pid!,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

function readHwm(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1] ?? 0) * 1024;
}

interface Measured {
  wallMs: number;
  /** The measured process itself (not its children). */
  rootPid: number;
  processes: ProcessSample[];
  emulator: { peakRss: number; cpu: number };
  postgresCpu: number;
  redisCpu: number;
  postgresAuxCpu: number;
  /** Cores the whole machine kept busy on average during the run (all processes, other sessions' too). */
  machineBusyCores: number;
}

/** Autovacuum's analyze, emulated on `env`'s database (see EMULATE_AUTOVACUUM); returns its stopper. */
async function emulateAutovacuum(env: TestEnv): Promise<{ start(): void; stop(): Promise<number> }> {
  const on =
    (await env.database.pool.query<{ setting: string }>(`SHOW autovacuum`)).rows[0]!.setting === 'on';
  if (on || !EMULATE_AUTOVACUUM) return { start: () => undefined, stop: async () => 0 };
  let analyzes = 0;
  let running: Promise<void> = Promise.resolve();
  const pass = async () => {
    const due = await env.database.pool.query<{ relname: string }>(
      `SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
       WHERE s.n_mod_since_analyze > 50 + 0.1 * greatest(c.reltuples, 0)`,
    );
    for (const { relname } of due.rows) {
      await env.database.pool.query(`ANALYZE "${relname}"`);
      analyzes++;
    }
  };
  let timer: NodeJS.Timeout | undefined;
  return {
    start() {
      timer = setInterval(() => {
        running = running.then(pass).catch((err: unknown) => log(`  autovacuum emulation: ${String(err)}`));
      }, AUTOVACUUM_NAPTIME_MS);
    },
    async stop() {
      clearInterval(timer);
      await running;
      return analyzes;
    },
  };
}

/** Runs `child` to its end while sampling its process tree, the emulator, Postgres and Redis. */
async function measure(
  start: () => ChildProcess,
  emulator: Emulator | null,
  database: string | null,
): Promise<Measured & { stdout: string; stderr: string; code: number | null }> {
  await timeShell('sync'); // write back dirty pages (builds, earlier runs) before the clock starts
  const quiet = await waitForQuiet();
  if (quiet.busyCores >= 0.3)
    log(`  machine still busy (${quiet.busyCores.toFixed(2)} cores), starting anyway`);
  if (emulator) resetPeakRss(emulator.pid);
  const emulatorCpu0 = emulator ? processCpuSeconds(emulator.pid) : 0;
  const servers0 = serverCpuSeconds();
  const machine0 = machineCpuSeconds().busy;
  const backends = database ? sampleBackendCpu(database) : null;
  const t0 = performance.now();
  const child = start();
  const watch = watchProcessTree(child.pid!);
  const { code, stdout, stderr } = await collectOutput(child);
  const wallMs = performance.now() - t0;
  const processes = watch.stop();
  const postgresCpu = backends?.stop() ?? 0;
  const servers1 = serverCpuSeconds();
  const machineBusyCores = (machineCpuSeconds().busy - machine0) / (wallMs / 1000);
  return {
    machineBusyCores,
    code,
    stdout,
    stderr,
    wallMs,
    rootPid: child.pid!,
    processes,
    emulator: emulator
      ? { peakRss: readHwm(emulator.pid), cpu: processCpuSeconds(emulator.pid) - emulatorCpu0 }
      : { peakRss: 0, cpu: 0 },
    postgresCpu,
    redisCpu: servers1.redis - servers0.redis,
    postgresAuxCpu: servers1.postgresAux - servers0.postgresAux,
  };
}

/** Compiles bench/lovlig-ref/lovlig-ref.c once per source version into bench/.work. */
async function lovligRefBinary(): Promise<string> {
  const source = join(ROOT, 'bench', 'lovlig-ref', 'lovlig-ref.c');
  const digest = createHash('sha1')
    .update(await readFile(source))
    .update(await readFile(join(ROOT, 'bench', 'lovlig-ref', 'xxhash.h')))
    .digest('hex')
    .slice(0, 12);
  const binary = join(WORK_DIR, `lovlig-ref-${digest}`);
  try {
    await readFile(binary);
  } catch {
    await mkdir(WORK_DIR, { recursive: true });
    execFileSync('gcc', ['-O2', '-march=native', '-o', binary, source, '-lbz2'], { stdio: 'inherit' });
  }
  return binary;
}

interface RefResult extends Measured {
  decoder: 'lbzip2' | 'libbz2';
  files: number;
  bytes: number;
  digest: string;
  manifest: string;
}

async function runReference(
  binary: string,
  archives: string[],
  decoder: RefResult['decoder'],
  outDir: string,
): Promise<RefResult> {
  await rm(outDir, { recursive: true, force: true });
  const manifest = join(WORK_DIR, `corpus-ref-manifest-${decoder}.txt`);
  const m = await measure(
    () =>
      spawn(binary, ['--decoder', decoder, '--manifest', manifest, outDir, ...archives], {
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    null,
    null,
  );
  if (m.code !== 0) throw new Error(`lovlig-ref exited ${m.code}: ${m.stderr}`);
  const out = JSON.parse(m.stdout) as { files: number; bytes: number; digest: string };
  await rm(outDir, { recursive: true, force: true });
  return { ...m, decoder, ...out, manifest };
}

interface LovsyncResult extends Measured {
  kind: 'cold' | 'incremental';
  json: RunCycleResult;
  /** ANALYZEs the autovacuum emulation ran during the run. */
  analyzes: number;
}

async function runLovsync(
  env: TestEnv,
  emulator: Emulator,
  kind: LovsyncResult['kind'],
  profileDir: string | null,
): Promise<LovsyncResult> {
  const flags = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const autovacuum = await emulateAutovacuum(env);
  const m = await measure(
    () => {
      autovacuum.start();
      return spawn(process.execPath, [...flags, 'apps/lovsync/bin/lovsync.js', 'run', '--json'], {
        cwd: ROOT,
        env: {
          ...process.env,
          ...env.env({ LOVDATA_API_URL: emulator.url, LOVDATA_DATASET_FILTER: 'null' }),
          ...(PG_SOCKET_DIR ? { DATABASE_URL: socketUrl(env.databaseUrl) } : {}),
          // Profiles name our source files (the bundle would put all of our code in dist/*.mjs).
          ...(profileDir ? { LOVSYNC_FROM_SOURCE: '1' } : {}),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    },
    emulator,
    env.name,
  ).finally(() => autovacuum.stop());
  const analyzes = await autovacuum.stop();
  if (m.code !== 0)
    throw new Error(`lovsync run exited ${m.code}: ${m.stderr.slice(-3000)}\n${m.stdout.slice(-2000)}`);
  const json = JSON.parse(m.stdout.slice(m.stdout.indexOf('{'))) as RunCycleResult;
  return { ...m, kind, json, analyzes };
}

/** `postgres://user@127.0.0.1:5432/db` -> `postgres://user@localhost:5432/db?host=<PG_SOCKET_DIR>` (the host parameter wins). */
function socketUrl(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  const port = url.port || '5432';
  return `postgres://${url.username}@localhost:${port}/${url.pathname.slice(1)}?host=${encodeURIComponent(PG_SOCKET_DIR)}`;
}

/** Every (dataset, path, hash) of `files` against the reference's manifest. */
async function crossCheck(
  env: TestEnv,
  manifestFile: string,
): Promise<{ files: number; mismatches: number }> {
  const expected = new Map<string, string>();
  for (const line of (await readFile(manifestFile, 'utf8')).split('\n')) {
    if (!line) continue;
    const [key, hash] = line.split('\t') as [string, string];
    expected.set(key, hash);
  }
  const rows = (
    await env.database.pool.query<{ dataset: string; path: string; hash: string }>(
      `SELECT dataset, path, hash FROM files WHERE status <> 'removed'`,
    )
  ).rows;
  let mismatches = Math.abs(rows.length - expected.size);
  for (const row of rows) {
    if (expected.get(`${row.dataset.replace(/\.tar\.bz2$/, '')}/${row.path}`) !== row.hash) mismatches++;
  }
  return { files: rows.length, mismatches };
}

async function derivedCounts(env: TestEnv): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of ['documents', 'sections', 'chunks', 'cross_references']) {
    counts[table] = Number(
      (await env.database.pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n,
    );
  }
  return counts;
}

async function serve(serveDir: string, from: string): Promise<void> {
  for (const archive of CORPUS_ARCHIVES) {
    await unlink(join(serveDir, archive)).catch(() => undefined);
    await link(join(from, archive), join(serveDir, archive));
  }
}

// --- report ------------------------------------------------------------------------------------

const s = (ms: number) => (ms / 1000).toFixed(1);
const mib = (bytes: number) => (bytes / MiB).toFixed(0);

/** `node 312 MiB, lbzip2 ×3 9 MiB` — the peak of each process (same-named children: the largest). */
function processSummary(processes: ProcessSample[], field: 'peakRss' | 'cpu'): string {
  const byName = new Map<string, { n: number; max: number; sum: number }>();
  for (const p of processes) {
    const e = byName.get(p.name) ?? { n: 0, max: 0, sum: 0 };
    e.n++;
    e.max = Math.max(e.max, p[field]);
    e.sum += p[field];
    byName.set(p.name, e);
  }
  return [...byName]
    .map(([name, e]) => {
      const label = e.n > 1 ? `${name} x${e.n}` : name;
      return field === 'peakRss' ? `${label} ${mib(e.max)} MiB` : `${label} ${e.sum.toFixed(1)} s`;
    })
    .join(', ');
}

const rootRss = (m: Measured) => m.processes.find((p) => p.pid === m.rootPid)?.peakRss ?? 0;

/** One incremental run and lovlig's core work on the same archives just before it. */
interface IncrementalPair {
  /** Which archives were served: the edited variant, or the cold one again (the edits reverted). */
  variant: 'edited' | 'cold';
  ref: RefResult;
  run: LovsyncResult;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const pairRatio = (p: IncrementalPair) => p.run.wallMs / p.ref.wallMs;
const VARIANT_LABEL = { edited: '1% edited', cold: 'the 1% reverted' } as const;

interface RepResult {
  rep: number;
  refs: RefResult[];
  cold: LovsyncResult;
  incrementals: IncrementalPair[];
  /** The files after the last incremental run against its reference's manifest. */
  checkAfter: { files: number; mismatches: number };
  check: { files: number; mismatches: number };
  counts: Record<string, number>;
}

function report(meta: CorpusMeta, reps: RepResult[]): void {
  process.stdout.write(
    `\nbench/corpus: ${meta.files} files, ${(meta.bytes / MB).toFixed(1)} MB of XML in ` +
      `${meta.archives.length} archives (${meta.archives.map((a) => `${a.name} ${a.files} files ${(a.coldBytes / MB).toFixed(1)} MB`).join('; ')}); ` +
      `incremental: ${meta.edited} files edited (${((meta.edited / meta.files) * 100).toFixed(2)}%). ` +
      `${availableParallelism()} cores; lovsync run = the CLI in a child process, PARSER_CONCURRENCY default` +
      `${PG_SOCKET_DIR ? `, Postgres through the Unix socket in ${PG_SOCKET_DIR}` : ''}.\n\n`,
  );
  const rows: string[][] = [];
  for (const r of reps) {
    const ref = r.refs.find((x) => x.decoder === 'lbzip2')!;
    for (const x of r.refs) {
      rows.push([
        `${r.rep}`,
        `lovlig core (C, ${x.decoder})`,
        s(x.wallMs),
        x === ref ? '1.00' : (x.wallMs / ref.wallMs).toFixed(2),
        processSummary(x.processes, 'peakRss'),
        processSummary(x.processes, 'cpu'),
        '-',
        '-',
        x.machineBusyCores.toFixed(2),
      ]);
    }
    const lovsyncRow = (run: LovsyncResult, label: string, against: RefResult) =>
      rows.push([
        `${r.rep}`,
        `lovsync run, ${label}`,
        s(run.wallMs),
        (run.wallMs / against.wallMs).toFixed(2),
        `${processSummary(run.processes, 'peakRss')}; emulator ${mib(run.emulator.peakRss)} MiB`,
        `${processSummary(run.processes, 'cpu')}; emulator ${run.emulator.cpu.toFixed(1)} s`,
        run.postgresCpu.toFixed(1),
        `${run.redisCpu.toFixed(1)} / ${run.postgresAuxCpu.toFixed(1)}`,
        run.machineBusyCores.toFixed(2),
      ]);
    lovsyncRow(r.cold, 'cold', ref);
    r.incrementals.forEach((p, k) => {
      rows.push([
        `${r.rep}`,
        `lovlig core (C, lbzip2), ${p.variant} archives`,
        s(p.ref.wallMs),
        '1.00',
        processSummary(p.ref.processes, 'peakRss'),
        processSummary(p.ref.processes, 'cpu'),
        '-',
        '-',
        p.ref.machineBusyCores.toFixed(2),
      ]);
      lovsyncRow(p.run, `incremental ${k + 1} (${VARIANT_LABEL[p.variant]})`, p.ref);
    });
  }
  printTable(
    [
      'rep',
      'what',
      'wall s',
      'x lovlig core',
      'peak RSS',
      'CPU s',
      'PG backends CPU s',
      'Redis / PG aux CPU s',
      'machine busy cores',
    ],
    rows,
  );
  process.stdout.write('\n');
  for (const r of reps) {
    const phases = (run: LovsyncResult) => {
      const sum = (k: string) => run.json.datasets.reduce((n, d) => n + (d.timings?.[k] ?? 0), 0);
      return (
        `total ${s(run.json.phases.totalMs)} s (start-up ${s(run.wallMs - run.json.phases.totalMs)} s), ` +
        `sync ${s(run.json.phases.syncMs)} s [per dataset, summed: download ${s(sum('downloadMs'))}, ` +
        `decompress+hash ${s(sum('readMs'))}, diff ${s(sum('diffMs'))}]; ` +
        `${run.json.run.filesAdded} added, ${run.json.run.filesModified} modified, ` +
        `${run.json.run.filesUnchanged} unchanged, parsed ${run.json.run.parseSucceeded}/${run.json.run.parseTotal}; ` +
        `${run.analyzes} ANALYZEs by the autovacuum emulation (every ${AUTOVACUUM_NAPTIME_MS / 1000} s)` +
        (run.json.run.parseFailed ? `, ${run.json.run.parseFailed} FAILED` : '')
      );
    };
    process.stdout.write(`rep ${r.rep} cold: ${phases(r.cold)}\n`);
    r.incrementals.forEach((p, k) =>
      process.stdout.write(
        `rep ${r.rep} incremental ${k + 1} (${VARIANT_LABEL[p.variant]}): ${phases(p.run)}; ` +
          `decode wait ${s(p.run.json.datasets.reduce((n, d) => n + (d.timings?.decodeWaitMs ?? 0), 0))} s\n`,
      ),
    );
    process.stdout.write(
      `rep ${r.rep} derived rows after the cold run: ${Object.entries(r.counts)
        .map(([k, v]) => `${k} ${v}`)
        .join(
          ', ',
        )}; files vs the reference's manifest: ${r.check.files} files, ${r.check.mismatches} mismatches; ` +
        `after the last incremental run: ${r.checkAfter.files} files, ${r.checkAfter.mismatches} mismatches\n`,
    );
  }
  process.stdout.write('\n');
  const last = reps[reps.length - 1]!;
  const ref = (r: RepResult) => r.refs.find((x) => x.decoder === 'lbzip2')!.wallMs;
  const coldRatios = reps.map((r) => (r.cold.wallMs / ref(r)).toFixed(2)).join(', ');
  const incrementalMedian = (r: RepResult) => median(r.incrementals.map(pairRatio));
  verdict(
    'cold run: every file added and parsed, hashes identical to the reference',
    reps.every(
      (r) =>
        r.cold.json.run.filesAdded === meta.files &&
        r.cold.json.run.parseSucceeded === meta.files &&
        r.check.mismatches === 0 &&
        r.refs.every((x) => x.files === meta.files),
    ),
    `${last.cold.json.run.filesAdded} added, ${last.cold.json.run.parseSucceeded} parsed, ` +
      `${last.check.mismatches} hash mismatches of ${last.check.files} (expected ${meta.files})`,
  );
  verdict(
    'incremental runs: exactly the edited (or reverted) files modified and parsed, files equal to the reference after',
    reps.every(
      (r) =>
        r.checkAfter.mismatches === 0 &&
        r.incrementals.every(
          (p) =>
            p.run.json.run.filesModified === meta.edited &&
            p.run.json.run.parseSucceeded === meta.edited &&
            p.run.json.run.filesAdded === 0 &&
            p.run.json.run.filesRemoved === 0,
        ),
    ),
    `${last.incrementals.map((p) => `${p.run.json.run.filesModified} modified/${p.run.json.run.parseSucceeded} parsed`).join(', ')} ` +
      `(expected ${meta.edited} each); ${last.checkAfter.mismatches} mismatches of ${last.checkAfter.files} after`,
  );
  verdict(
    `cold <= ${TARGETS.cold}x lovlig core (C + lbzip2)`,
    reps.every((r) => r.cold.wallMs / ref(r) <= TARGETS.cold),
    `${coldRatios} per repetition`,
  );
  verdict(
    `incremental <= ${TARGETS.incremental}x lovlig core (median of each repetition's pairs)`,
    reps.every((r) => incrementalMedian(r) <= TARGETS.incremental),
    reps
      .map(
        (r) =>
          `rep ${r.rep}: median ${incrementalMedian(r).toFixed(2)} of ${r.incrementals.map((p) => pairRatio(p).toFixed(2)).join(', ')}`,
      )
      .join('; '),
  );
  const rss = reps.flatMap((r) => [rootRss(r.cold), ...r.incrementals.map((p) => rootRss(p.run))]);
  verdict(
    `lovsync run peak RSS <= ${TARGETS.rssMiB} MiB`,
    Math.max(...rss) <= TARGETS.rssMiB * MiB,
    `${rss.map(mib).join(', ')} MiB (cold, then each incremental, per repetition)`,
  );
}

async function rssBySize(): Promise<void> {
  const file = join(WORK_DIR, 'corpus-results.jsonl');
  let lines: string[];
  try {
    lines = (await readFile(file, 'utf8')).split('\n').filter(Boolean);
  } catch {
    return;
  }
  const bySize = new Map<number, { mb: number; cold: number[]; incremental: number[] }>();
  for (const line of lines) {
    const r = JSON.parse(line) as { mb: number; coldRss: number; incrementalRss: number };
    const e = bySize.get(r.mb) ?? { mb: r.mb, cold: [], incremental: [] };
    e.cold.push(r.coldRss);
    e.incremental.push(r.incrementalRss);
    bySize.set(r.mb, e);
  }
  process.stdout.write(
    '\nlovsync run peak RSS by corpus size (this and earlier runs, bench/.work/corpus-results.jsonl)\n',
  );
  printTable(
    ['XML MB', 'runs', 'cold peak RSS MiB', 'incremental peak RSS MiB'],
    [...bySize.values()]
      .sort((a, b) => a.mb - b.mb)
      .map((e) => [
        e.mb.toFixed(0),
        String(e.cold.length),
        e.cold.map(mib).join(', '),
        e.incremental.map(mib).join(', '),
      ]),
  );
}

// --- main --------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const { dir, meta } = await cachedDir(`corpus-${SIZE_MB}`, SPEC, buildCorpus);
  log(
    `corpus: ${meta.files} files, ${(meta.bytes / MB).toFixed(1)} MB XML, ` +
      `${(meta.archives.reduce((n, a) => n + a.coldBytes, 0) / MB).toFixed(1)} MB tar.bz2; ${meta.edited} edited`,
  );
  const binary = await lovligRefBinary();
  const serveDir = join(dir, 'serve');
  await rm(serveDir, { recursive: true, force: true });
  await mkdir(serveDir);
  const emulator = await startEmulatorProcess(serveDir);
  const reps: RepResult[] = [];
  try {
    for (let rep = 1; rep <= REPS; rep++) {
      const refs: RefResult[] = [];
      const archives = CORPUS_ARCHIVES.map((a) => join(dir, 'cold', a));
      for (const decoder of rep === 1 && REF_LIBBZ2
        ? (['lbzip2', 'libbz2'] as const)
        : (['lbzip2'] as const)) {
        log(`rep ${rep}/${REPS}: lovlig core (C, ${decoder})`);
        const r = await runReference(binary, archives, decoder, join(WORK_DIR, 'corpus-ref-out'));
        log(`  ${s(r.wallMs)} s, ${r.files} files, digest ${r.digest}`);
        refs.push(r);
      }
      const env = await createTestEnv(`bench_corpus_${rep}`);
      try {
        await serve(serveDir, join(dir, 'cold'));
        const profileDirs = { cold: '', incremental: '' };
        if (PROFILE && rep === 1) {
          for (const kind of ['cold', 'incremental'] as const) {
            profileDirs[kind] = join(WORK_DIR, `corpus-profile-${SIZE_MB}-${kind}`);
            await rm(profileDirs[kind], { recursive: true, force: true });
          }
        }
        log(`rep ${rep}/${REPS}: cold lovsync run --json${profileDirs.cold ? ' (--cpu-prof)' : ''}`);
        const cold = await runLovsync(env, emulator, 'cold', profileDirs.cold || null);
        log(`  ${s(cold.wallMs)} s, peak RSS ${mib(rootRss(cold))} MiB`);
        const check = await crossCheck(env, refs[0]!.manifest);
        const counts = await derivedCounts(env);
        const incrementals: IncrementalPair[] = [];
        for (let k = 0; k < INCREMENTAL_REPS; k++) {
          const variant = k % 2 === 0 ? 'edited' : 'cold';
          log(`rep ${rep}/${REPS}: incremental ${k + 1}/${INCREMENTAL_REPS} (${VARIANT_LABEL[variant]})`);
          const ref = await runReference(
            binary,
            CORPUS_ARCHIVES.map((a) => join(dir, variant, a)),
            'lbzip2',
            join(WORK_DIR, 'corpus-ref-out'),
          );
          log(`  lovlig core on the same archives: ${s(ref.wallMs)} s`);
          await serve(serveDir, join(dir, variant));
          const profileDir = k === 0 ? profileDirs.incremental || null : null;
          const run = await runLovsync(env, emulator, 'incremental', profileDir);
          log(
            `  lovsync run --json${profileDir ? ' (--cpu-prof)' : ''}: ${s(run.wallMs)} s = ` +
              `${(run.wallMs / ref.wallMs).toFixed(2)}x, peak RSS ${mib(rootRss(run))} MiB`,
          );
          incrementals.push({ variant, ref, run });
        }
        const checkAfter = await crossCheck(env, incrementals[incrementals.length - 1]!.ref.manifest);
        reps.push({ rep, refs, cold, incrementals, check, checkAfter, counts });
        const firstIncremental = incrementals[0]!.run;
        await appendFile(
          join(WORK_DIR, 'corpus-results.jsonl'),
          `${JSON.stringify({
            at: new Date().toISOString(),
            mb: meta.bytes / MB,
            files: meta.files,
            refMs: refs[0]!.wallMs,
            coldMs: cold.wallMs,
            incrementalMs: firstIncremental.wallMs,
            incrementalRatios: incrementals.map(pairRatio),
            coldRss: rootRss(cold),
            incrementalRss: Math.max(...incrementals.map((p) => rootRss(p.run))),
            coldPgCpu: cold.postgresCpu,
            incrementalPgCpu: firstIncremental.postgresCpu,
            profiled: PROFILE,
          })}\n`,
        );
        for (const kind of ['cold', 'incremental'] as const) {
          const profileDir = profileDirs[kind];
          if (!profileDir) continue;
          const summary = await summariseProfiles(profileDir, 25);
          process.stdout.write(
            `\n${kind} run CPU profile (node --cpu-prof of the lovsync process, all its threads): ` +
              `busy ${s(summary.busyMs)} s, idle ${s(summary.idleMs)} s\n`,
          );
          printTable(
            ['area', 'self s', '% of busy'],
            summary.areas.map((a) => [a.area, s(a.ms), ((a.ms / summary.busyMs) * 100).toFixed(1)]),
          );
          printTable(
            ['function', 'area', 'self s'],
            summary.functions.map((f) => [f.name, f.area, s(f.ms)]),
          );
          log(`profiles kept in ${profileDir}: ${(await readdir(profileDir)).join(', ')}`);
        }
      } finally {
        await env.teardown();
      }
    }
  } finally {
    await emulator.close();
    await rm(serveDir, { recursive: true, force: true });
  }
  report(meta, reps);
  await rssBySize();
}

await main();
