import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bombEntry,
  buildTarBz2,
  buildZip,
  corruptBzip2Block,
  EDIT_MARKER,
  editEntries,
  entityExpansionEntry,
  entriesFromDir,
  fixtureEntries,
  hostileEntries,
  malformedXmlEntry,
  syntheticCorpus,
  syntheticCorpusEditedPaths,
  truncateFile,
} from '@lovsync/testkit/archive/archive-builder';
import type { ArchiveEntry } from '@lovsync/testkit/archive/archive-builder';

const FIXTURES = fileURLToPath(new URL('../fixtures/lovdata/', import.meta.url));
const XMLLINT = '/usr/bin/xmllint';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'lovsync-archive-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

type Run = { code: number; stdout: string; stderr: string };

function run(command: string, args: string[], encoding: BufferEncoding = 'utf8'): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { encoding, maxBuffer: 512 << 20 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function decompress(file: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile('bzip2', ['-dc', file], { encoding: 'buffer', maxBuffer: 512 << 20 }, (error, stdout) =>
      error ? reject(error) : resolve(stdout),
    );
  });
}

type RawTarHeader = { name: string; typeflag: string; linkname: string; size: number };

/** The ustar headers of an uncompressed tar, names taken from the raw bytes (prefix + name). */
function rawTarHeaders(tar: Buffer): RawTarHeader[] {
  const text = (offset: number, length: number) =>
    tar.toString('utf8', offset, offset + length).replace(/\0.*$/s, '');
  const headers: RawTarHeader[] = [];
  for (let offset = 0; offset + 512 <= tar.length && tar[offset] !== 0;) {
    const prefix = text(offset + 345, 155);
    const name = text(offset, 100);
    const size = parseInt(text(offset + 124, 12), 8);
    headers.push({
      name: prefix ? `${prefix}/${name}` : name,
      typeflag: text(offset + 156, 1),
      linkname: text(offset + 157, 100),
      size,
    });
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return headers;
}

const contentOf = (entry: ArchiveEntry) => Buffer.from(entry.content as Buffer | string);
const sha256 = (entries: Iterable<ArchiveEntry>) => {
  const hash = createHash('sha256');
  for (const entry of entries) hash.update(entry.path).update(contentOf(entry));
  return hash.digest('hex');
};
const tag = (xml: string, className: string) =>
  new RegExp(`<dd class="${className}">([^<]*)</dd>`).exec(xml)?.[1] ?? null;

describe('tar.bz2 of the real fixtures', () => {
  it.each(['gjeldende-lover', 'lovtidend-avd1-2025'] as const)(
    '%s lists exactly the fixture paths',
    async (dataset) => {
      const entries = fixtureEntries(dataset);
      const file = join(tmp, `${dataset}.tar.bz2`);
      const { bytes } = await buildTarBz2(entries, file);
      expect(bytes).toBe((await stat(file)).size);
      expect(await run('bzip2', ['-t', file])).toMatchObject({ code: 0 });

      const listing = await run('tar', ['-tvjf', file]);
      expect(listing.code).toBe(0);
      const lines = listing.stdout.trim().split('\n');
      expect(lines.map((line) => line.split(/\s+/).pop())).toEqual(entries.map((entry) => entry.path));
      expect(lines.every((line) => line.startsWith('-rw-r--r--'))).toBe(true);
      const prefix =
        dataset === 'gjeldende-lover' ? /^nl\/nl-\d{8}-\d{3}\.xml$/ : /^lti\/2025\/(nl|sf)-\d{8}-\d+\.xml$/;
      expect(entries.every((entry) => prefix.test(entry.path))).toBe(true);
      expect(entries).toHaveLength(dataset === 'gjeldende-lover' ? 8 : 13);

      const out = join(tmp, `${dataset}-extracted`);
      await mkdir(out);
      expect(await run('tar', ['-xjf', file, '-C', out])).toMatchObject({ code: 0 });
      for (const entry of entries) {
        const original = await readFile(join(FIXTURES, dataset, entry.path));
        expect((await readFile(join(out, entry.path))).equals(original)).toBe(true);
      }
    },
  );

  it('is reproducible: same entries, same bytes', async () => {
    const a = join(tmp, 'a.tar.bz2');
    const b = join(tmp, 'b.tar.bz2');
    await buildTarBz2(fixtureEntries('gjeldende-lover'), a);
    await buildTarBz2(fixtureEntries('gjeldende-lover'), b, { compressor: 'bzip2' });
    await buildTarBz2(fixtureEntries('gjeldende-lover'), join(tmp, 'c.tar.bz2'), { compressor: 'bzip2' });
    expect((await readFile(b)).equals(await readFile(join(tmp, 'c.tar.bz2')))).toBe(true);
    expect((await decompress(a)).equals(await decompress(b))).toBe(true);
  });

  it('fails when the compressor fails', async () => {
    await expect(
      buildTarBz2(fixtureEntries('gjeldende-lover'), join(tmp, 'missing-dir', 'x.tar.bz2')),
    ).rejects.toThrow();
  });
});

describe('zip', () => {
  it('lists with unzip and holds the fixture bytes', async () => {
    const entries = fixtureEntries('lovtidend-avd1-2025');
    const file = join(tmp, 'lovtidend.zip');
    const { bytes } = await buildZip(entries, file);
    expect(bytes).toBe((await stat(file)).size);
    expect(await run('unzip', ['-tq', file])).toMatchObject({ code: 0 });
    const names = (await run('unzip', ['-Z1', file])).stdout.trim().split('\n');
    expect(names).toEqual(entries.map((entry) => entry.path));
    const largest = 'lti/2025/sf-20250617-1412.xml';
    const extracted = await run('unzip', ['-p', file, largest], 'latin1');
    expect(
      Buffer.from(extracted.stdout, 'latin1').equals(contentOf(entries.find((e) => e.path === largest)!)),
    ).toBe(true);
  });

  it('keeps hostile names verbatim and stores symlinks and devices by mode bits', async () => {
    const {
      parentTraversal,
      absolutePath,
      nestedTraversal,
      backslashTraversal,
      absoluteSymlink,
      characterDevice,
    } = hostileEntries();
    const entries: ArchiveEntry[] = [
      ...fixtureEntries('gjeldende-lover').slice(0, 2),
      parentTraversal,
      absolutePath,
      nestedTraversal,
      backslashTraversal,
      absoluteSymlink,
      characterDevice,
      { path: 'nl/', type: 'directory' },
    ];
    const file = join(tmp, 'hostile.zip');
    await buildZip(entries, file);
    expect(await run('unzip', ['-tq', file])).toMatchObject({ code: 0 });
    const names = (await run('unzip', ['-Z1', file])).stdout.trim().split('\n');
    expect(names).toEqual(entries.map((entry) => entry.path));
    const info = (await run('unzip', ['-Z', file])).stdout;
    expect(info).toMatch(/^lrwxrwxrwx .* nl\/nl-20990101-001\.xml$/m);
    expect(info).toMatch(/^crw-rw-rw- .* nl\/nl-20990101-004\.xml$/m);
    expect(info).toMatch(/^drwxr-xr-x .* nl\/$/m);
    expect((await run('unzip', ['-p', file, absoluteSymlink.path])).stdout).toBe('/etc/passwd');
  });

  it('refuses hard links, which zip cannot hold', async () => {
    await expect(buildZip([hostileEntries().escapingHardlink], join(tmp, 'hardlink.zip'))).rejects.toThrow(
      /hard link/,
    );
  });
});

describe('hostile archives', () => {
  it('writes hostile names, links and devices verbatim into the tar headers', async () => {
    const hostile = hostileEntries();
    const longName = `nl/${'a'.repeat(160)}/${'b'.repeat(120)}.xml`;
    const file = join(tmp, 'hostile.tar.bz2');
    await buildTarBz2([...Object.values(hostile), { path: longName, content: 'x' }], file);
    expect(await run('bzip2', ['-t', file])).toMatchObject({ code: 0 });

    const headers = rawTarHeaders(await decompress(file));
    const byName = new Map(headers.map((header) => [header.name, header]));
    for (const entry of [
      hostile.parentTraversal,
      hostile.absolutePath,
      hostile.nestedTraversal,
      hostile.backslashTraversal,
    ]) {
      expect(byName.get(entry.path)).toMatchObject({ typeflag: '0', size: Buffer.byteLength(entry.content) });
    }
    expect(byName.get(hostile.absoluteSymlink.path)).toMatchObject({
      typeflag: '2',
      linkname: '/etc/passwd',
    });
    expect(byName.get(hostile.escapingSymlink.path)).toMatchObject({
      typeflag: '2',
      linkname: '../../../etc/passwd',
    });
    expect(byName.get(hostile.escapingHardlink.path)).toMatchObject({
      typeflag: '1',
      linkname: '../outside.xml',
    });
    expect(byName.get(hostile.characterDevice.path)).toMatchObject({ typeflag: '3' });
    expect(headers.some((header) => header.typeflag === 'x')).toBe(true); // pax header of the long name

    const listing = await run('tar', ['-tvjf', file]);
    expect(listing.stdout).toContain(longName);
    expect(listing.stdout).toMatch(/^l.* nl\/nl-20990101-001\.xml -> \/etc\/passwd$/m);
    expect(listing.stdout).toMatch(/^h.* nl\/nl-20990101-003\.xml link to /m);
    expect(listing.stdout).toMatch(/^c.* 1,3 .*nl\/nl-20990101-004\.xml$/m);
  });

  it('bombEntry streams a huge, highly compressible file', async () => {
    const size = 64 << 20;
    const file = join(tmp, 'bomb.tar.bz2');
    const { bytes } = await buildTarBz2([bombEntry(size)], file);
    expect(bytes).toBeLessThan(size / 1000);
    const listing = await run('tar', ['-tvjf', file]);
    expect(listing.stdout).toMatch(new RegExp(` ${size} .*nl/nl-20991231-999\\.xml`));
    expect(await run('bzip2', ['-t', file])).toMatchObject({ code: 0 });
  });

  it('refuses streamed content whose size differs from the declared one', async () => {
    const liar: ArchiveEntry = {
      path: 'x.xml',
      content: {
        size: 10,
        open: async function* () {
          yield Buffer.alloc(5);
        },
      },
    };
    await expect(buildTarBz2([liar], join(tmp, 'liar.tar.bz2'))).rejects.toThrow(/declared 10/);
  });

  it('truncated and corrupted archives fail bzip2 -t', async () => {
    const source = join(tmp, 'source.tar.bz2');
    await buildTarBz2(fixtureEntries('lovtidend-avd1-2025'), source);
    const { size } = await stat(source);

    const truncated = join(tmp, 'truncated.tar.bz2');
    await copyFile(source, truncated);
    await truncateFile(truncated, Math.floor(size / 2));
    expect((await stat(truncated)).size).toBe(Math.floor(size / 2));
    expect((await run('bzip2', ['-t', truncated])).code).not.toBe(0);

    const corrupted = join(tmp, 'corrupted.tar.bz2');
    await copyFile(source, corrupted);
    await corruptBzip2Block(corrupted);
    expect((await stat(corrupted)).size).toBe(size);
    expect((await readFile(corrupted)).equals(await readFile(source))).toBe(false);
    expect((await run('bzip2', ['-t', corrupted])).code).not.toBe(0);
  });

  it.runIf(existsSync(XMLLINT))('malformed and entity-expansion documents are what they claim', async () => {
    const malformed = join(tmp, 'malformed.xml');
    await writeFile(malformed, contentOf(malformedXmlEntry()));
    expect((await run(XMLLINT, ['--noout', malformed])).code).not.toBe(0);
    const laughs = contentOf(entityExpansionEntry()).toString();
    expect(laughs).toMatch(/<!ENTITY lol9 "(&lol8;){10}">/);
  });
});

describe('entriesFromDir', () => {
  it('walks a folder into sorted relative posix paths with contents, modes and symlinks', async () => {
    const root = join(FIXTURES, 'lovtidend-avd1-2025');
    const entries: ArchiveEntry[] = [];
    for await (const entry of entriesFromDir(root)) entries.push(entry);
    const fixtures = fixtureEntries('lovtidend-avd1-2025');
    expect(entries.map((entry) => entry.path)).toEqual(fixtures.map((entry) => entry.path));
    expect(entries.every((entry, i) => contentOf(entry).equals(contentOf(fixtures[i]!)))).toBe(true);

    const dir = join(tmp, 'walk');
    await mkdir(join(dir, 'b'), { recursive: true });
    await writeFile(join(dir, 'b', 'z.xml'), 'z');
    await writeFile(join(dir, 'a.xml'), 'a');
    await symlink('/etc/passwd', join(dir, 'b', 'link.xml'));
    const walked: ArchiveEntry[] = [];
    for await (const entry of entriesFromDir(dir)) walked.push(entry);
    expect(walked.map(({ path, type, linkname }) => ({ path, type, linkname }))).toEqual([
      { path: 'a.xml', type: undefined, linkname: undefined },
      { path: 'b/link.xml', type: 'symlink', linkname: '/etc/passwd' },
      { path: 'b/z.xml', type: undefined, linkname: undefined },
    ]);
  });
});

describe('syntheticCorpus', () => {
  const FILE_NAME =
    /^(nl|lti\/2025)\/(nl-(\d{4})(\d{2})(\d{2})-(\d{3})|sf-(\d{4})(\d{2})(\d{2})-(\d{4}))\.xml$/;

  /** `nl-19990326-017.xml` <-> `lov/1999-03-26-17`; number 000 has no number part. */
  function refidFromPath(path: string): string {
    const m = FILE_NAME.exec(path)!;
    const [kind, y, mo, d, n] = m[6]
      ? ['lov', m[3], m[4], m[5], m[6]]
      : ['forskrift', m[7], m[8], m[9], m[10]];
    return `${kind}/${y}-${mo}-${d}${Number(n) ? `-${Number(n)}` : ''}`;
  }

  it('yields copies x 21 distinct, consistently renumbered documents', () => {
    const entries = [...syntheticCorpus({ copies: 3 })];
    expect(entries).toHaveLength(63);
    expect(new Set(entries.map((entry) => entry.path)).size).toBe(63);

    const dokids = new Set<string>();
    for (const entry of entries) {
      expect(entry.path).toMatch(FILE_NAME);
      const xml = contentOf(entry).toString();
      const dokid = tag(xml, 'dokid')!;
      const refid = tag(xml, 'refid')!;
      dokids.add(dokid);
      expect(refid).toBe(refidFromPath(entry.path));
      expect(dokid).toBe(`${entry.path.startsWith('nl/') ? 'NL' : 'LTI'}/${refid}`);
      expect(tag(xml, 'legacyID')).toBe(`${refid.startsWith('lov/') ? 'LOV' : 'FOR'}-${refid.split('/')[1]}`);
      expect(xml).toContain(`<main class="documentBody" data-lovdata-URL="${dokid}" id="dokument">`);
    }
    expect(dokids.size).toBe(63);
  });

  it('copy 0 is the fixtures byte for byte; later copies carry their number in the title', () => {
    const fixtures = [...fixtureEntries('gjeldende-lover'), ...fixtureEntries('lovtidend-avd1-2025')];
    const entries = [...syntheticCorpus({ copies: 3 })];
    expect(sha256(entries.slice(0, 21))).toBe(sha256(fixtures));
    const copy = contentOf(entries.find((entry) => entry.path === 'nl/nl-19990326-019.xml')!).toString();
    expect(copy).toContain('<title>Lov om husleieavtaler (husleieloven) (kopi 2)</title>');
    expect(copy).toContain('<dd class="title">Lov om husleieavtaler (husleieloven) (kopi 2)</dd>');
    expect(copy).toContain('<h1>Lov om husleieavtaler (husleieloven) (kopi 2)</h1>');
    expect(copy).toContain('<a href="lov/1999-03-26-19/§13-2">');
    expect(copy).not.toContain('1999-03-26-17');
  });

  it('is deterministic', () => {
    expect(sha256(syntheticCorpus({ copies: 4, seed: 7, editFraction: 0.1 }))).toBe(
      sha256(syntheticCorpus({ copies: 4, seed: 7, editFraction: 0.1 })),
    );
    expect(sha256(syntheticCorpus({ copies: 4, seed: 7, editFraction: 0.1 }))).not.toBe(
      sha256(syntheticCorpus({ copies: 4, seed: 8, editFraction: 0.1 })),
    );
  });

  it('rejects copy counts that would break the naming pattern', () => {
    expect(() => syntheticCorpus({ copies: 1001 })).toThrow(/copies/);
    expect(() => syntheticCorpus({ copies: 0 })).toThrow(/copies/);
  });

  it('editFraction edits the same files as editEntries and syntheticCorpusEditedPaths say', () => {
    const options = { copies: 5, seed: 3, editFraction: 0.2 };
    const edited = [...syntheticCorpus(options)];
    const expected = editEntries([...syntheticCorpus({ copies: 5 })], 0.2, 3);
    expect(expected.edited).toHaveLength(21);
    expect(syntheticCorpusEditedPaths(options)).toEqual(expected.edited);
    expect(sha256(edited)).toBe(sha256(expected.entries));
  });

  it.runIf(existsSync(XMLLINT))('copies are well-formed XML', async () => {
    const dir = join(tmp, 'corpus');
    const files: string[] = [];
    for (const entry of syntheticCorpus({ copies: 2, editFraction: 0.5 })) {
      const file = join(dir, entry.path);
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, contentOf(entry));
      files.push(file);
    }
    expect(await run(XMLLINT, ['--noout', ...files])).toMatchObject({ code: 0, stderr: '' });
  });

  it('builds into a tar.bz2 that lists every document', async () => {
    const file = join(tmp, 'corpus.tar.bz2');
    await buildTarBz2(syntheticCorpus({ copies: 5 }), file);
    const listed = (await run('tar', ['-tjf', file])).stdout.trim().split('\n');
    expect(listed).toEqual([...syntheticCorpus({ copies: 5 })].map((entry) => entry.path));
  });
});

describe('editEntries', () => {
  const fixtures = [...fixtureEntries('gjeldende-lover'), ...fixtureEntries('lovtidend-avd1-2025')];
  const legalPWithMarker = new RegExp(`<article class="legalP"[^>]*>${EDIT_MARKER} [0-9a-f]{8}\\. `, 'g');

  it('edits the stated fraction, one ledd per file, and reports which', () => {
    const { entries, edited } = editEntries(fixtures, 0.25, 42);
    expect(edited).toHaveLength(Math.round(0.25 * 21));
    expect(entries.map((entry) => entry.path)).toEqual(fixtures.map((entry) => entry.path));
    entries.forEach((entry, i) => {
      const original = fixtures[i]!;
      if (!edited.includes(entry.path)) return expect(entry).toBe(original);
      const xml = contentOf(entry).toString();
      expect(xml.match(legalPWithMarker)).toHaveLength(1);
      expect(xml.split(EDIT_MARKER)).toHaveLength(2);
      expect(xml.replace(new RegExp(`${EDIT_MARKER} [0-9a-f]{8}\\. `), '')).toBe(
        contentOf(original).toString(),
      );
    });
  });

  it('is deterministic by seed', () => {
    expect(editEntries(fixtures, 0.5, 1).edited).toEqual(editEntries(fixtures, 0.5, 1).edited);
    expect(sha256(editEntries(fixtures, 0.5, 1).entries)).toBe(sha256(editEntries(fixtures, 0.5, 1).entries));
    expect(editEntries(fixtures, 0.5, 1).edited).not.toEqual(editEntries(fixtures, 0.5, 2).edited);
    expect(editEntries(fixtures, 0, 1).edited).toEqual([]);
    expect(editEntries(fixtures, 1, 1).edited).toHaveLength(21);
  });

  it('refuses to edit more files than have a ledd', () => {
    expect(() => editEntries([{ path: 'a.xml', content: '<p/>' }], 1)).toThrow(/only 0 have a ledd/);
  });

  it.runIf(existsSync(XMLLINT))('keeps the documents well-formed', async () => {
    const { entries, edited } = editEntries(fixtures, 1, 5);
    const files: string[] = [];
    for (const entry of entries.filter((e) => edited.includes(e.path))) {
      const file = join(tmp, 'edited', entry.path);
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, contentOf(entry));
      files.push(file);
    }
    expect(await run(XMLLINT, ['--noout', ...files])).toMatchObject({ code: 0, stderr: '' });
  });
});
