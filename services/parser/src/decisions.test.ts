import { describe, expect, it } from 'vitest';
import {
  chooseWriter,
  choosePrevious,
  classifyChange,
  diffSections,
  sectionsBeforeRun,
  type FileRef,
  type StoredSection,
} from './decisions.ts';
import { languageSuffix, storageDocumentId, withStorageId } from './document-ids.ts';
import type { ExtractedDocument, ExtractedSection } from './extract/index.ts';

const f = (dataset: string, path: string): FileRef => ({ dataset, path });
const A = f('gjeldende-lover.tar.bz2', 'nl/nl-20000101-001.xml');
const B = f('gjeldende-lover.tar.bz2', 'nl/nl-20000101-002.xml');
const C = f('lovtidend-avd1-2025.tar.bz2', 'lti/nl-20000101-001.xml');

describe('chooseWriter (dokid collisions)', () => {
  it('without an incumbent the first (dataset, path) writes, whichever file is parsed first', () => {
    expect(chooseWriter({ self: B, incumbent: null, rivals: [] })).toEqual({
      write: true,
      collisionWith: null,
    });
    expect(chooseWriter({ self: A, incumbent: null, rivals: [B] })).toEqual({
      write: true,
      collisionWith: B,
    });
    expect(chooseWriter({ self: B, incumbent: null, rivals: [A] })).toEqual({ write: false, winner: A });
    expect(chooseWriter({ self: C, incumbent: null, rivals: [B, A] })).toEqual({ write: false, winner: A });
  });
  it('the incumbent keeps its document against a file that sorts before it', () => {
    expect(chooseWriter({ self: A, incumbent: B, rivals: [] })).toEqual({ write: false, winner: B });
    expect(chooseWriter({ self: B, incumbent: B, rivals: [A] })).toEqual({ write: true, collisionWith: A });
    expect(chooseWriter({ self: B, incumbent: B, rivals: [B] })).toEqual({
      write: true,
      collisionWith: null,
    });
  });
});

describe('choosePrevious', () => {
  it('new, stored, tombstoned earlier, revived in the run, redone in the run', () => {
    expect(choosePrevious({ runId: 5, prev: null, runChange: null })).toEqual({
      baseline: 'none',
      revived: false,
    });
    const at = (status: 'active' | 'removed', lastRunId: number) => ({ status, lastRunId });
    expect(choosePrevious({ runId: 5, prev: at('active', 4), runChange: null }).baseline).toBe('stored');
    expect(choosePrevious({ runId: 5, prev: at('removed', 4), runChange: null }).baseline).toBe('none');
    expect(choosePrevious({ runId: 5, prev: at('removed', 5), runChange: 'removed' })).toEqual({
      baseline: 'stored',
      revived: true,
    });
    expect(choosePrevious({ runId: 5, prev: at('active', 5), runChange: 'added' }).baseline).toBe('none');
    expect(choosePrevious({ runId: 5, prev: at('active', 5), runChange: 'modified' }).baseline).toBe(
      'stored-before-run',
    );
    expect(choosePrevious({ runId: 5, prev: at('active', 5), runChange: null }).baseline).toBe('stored');
  });
});

describe('classifyChange (the change-row rule)', () => {
  const base = {
    isNew: false,
    sameSource: false,
    reparse: false,
    sectionChanges: 0,
    metadataMoved: false,
    amendment: false,
  };
  it('added documents: one document_changes row, no section_changes; kind reparse when a reparse adds it', () => {
    expect(classifyChange({ ...base, isNew: true })).toEqual({
      change: 'added',
      kind: null,
      sectionRows: false,
    });
    expect(classifyChange({ ...base, isNew: true, reparse: true })).toEqual({
      change: 'added',
      kind: 'reparse',
      sectionRows: false,
    });
  });
  it('identical derived content writes nothing, whatever happened to the bytes', () => {
    expect(classifyChange(base)).toEqual({ change: null, kind: null, sectionRows: false });
    expect(classifyChange({ ...base, reparse: true, sameSource: true })).toEqual({
      change: null,
      kind: null,
      sectionRows: false,
    });
  });
  it('same bytes, different derivation: kind reparse, never amendment/editorial, no section_changes', () => {
    expect(
      classifyChange({ ...base, sameSource: true, sectionChanges: 3, amendment: true, metadataMoved: true }),
    ).toEqual({
      change: 'modified',
      kind: 'reparse',
      sectionRows: false,
    });
  });
  it('changed bytes: amendment when lastChangedBy/lastChangeInForce moved, else editorial, with section rows', () => {
    expect(classifyChange({ ...base, sectionChanges: 1 })).toEqual({
      change: 'modified',
      kind: 'editorial',
      sectionRows: true,
    });
    expect(classifyChange({ ...base, metadataMoved: true, amendment: true })).toEqual({
      change: 'modified',
      kind: 'amendment',
      sectionRows: true,
    });
  });
});

describe('language twin ids', () => {
  it('a language suffix after the numeric stem makes the id dokid@lang; other files keep the dokid', () => {
    expect(languageSuffix('nl/nl-18140517-000-nn.xml')).toBe('nn');
    expect(languageSuffix('sf/sf-20010101-0001-EN.xml')).toBe('en');
    expect(languageSuffix('nl/nl-18140517-000.xml')).toBeNull();
    expect(languageSuffix('nl/nl-19610505-000.xml')).toBeNull();
    expect(storageDocumentId('NL/lov/1814-05-17', 'nl/nl-18140517-000-nn.xml')).toBe('NL/lov/1814-05-17@nn');
    expect(storageDocumentId('NL/lov/1814-05-17', 'nl/nl-18140517-000.xml')).toBe('NL/lov/1814-05-17');
  });
  it('chunk ids follow the storage id', () => {
    const doc = {
      documentId: 'NL/lov/1814-05-17',
      chunks: [
        {
          chunkId: 'NL/lov/1814-05-17/§1#c0',
          sectionKey: '§1',
          ord: 0,
          headingPath: '',
          text: 'x',
          tokenCount: 1,
        },
      ],
    } as unknown as ExtractedDocument;
    const twin = withStorageId(doc, 'nl/nl-18140517-000-nn.xml');
    expect(twin.documentId).toBe('NL/lov/1814-05-17@nn');
    expect(twin.chunks[0]!.chunkId).toBe('NL/lov/1814-05-17@nn/§1#c0');
    expect(withStorageId(doc, 'nl/nl-18140517-000.xml')).toBe(doc);
  });
});

describe('diffSections and sectionsBeforeRun (the previous version)', () => {
  const stored = (key: string, text: string, hash: string | null): StoredSection => ({
    section_key: key,
    text_hash: hash,
    text,
    number: key,
    heading_path: 'H',
  });
  const next = (key: string, text: string, hash: string) =>
    ({ key, text, textHash: hash, number: key, headingPath: 'H' }) as ExtractedSection;

  it('added, modified (by hash; by text for a rebuilt version) and removed, removed last', () => {
    const old = [stored('§1', 'a', 'h1'), stored('§2', 'b', 'h2'), stored('§3', 'c', null)];
    expect(
      diffSections(old, [
        next('§0', 'z', 'h0'),
        next('§1', 'a', 'h1'),
        next('§2', 'b2', 'h2x'),
        next('§3', 'c', 'hc'),
      ]),
    ).toEqual([
      { key: '§0', change: 'added', number: '§0', headingPath: 'H', oldText: null, newText: 'z' },
      { key: '§2', change: 'modified', number: '§2', headingPath: 'H', oldText: 'b', newText: 'b2' },
    ]);
    expect(diffSections(old, [next('§3', 'c changed', 'hc')]).map((c) => [c.key, c.change])).toEqual([
      ['§3', 'modified'],
      ['§1', 'removed'],
      ['§2', 'removed'],
    ]);
  });

  it("undoes the run's section changes: added ones go, modified and removed ones come back with their old text", () => {
    const now = [stored('§1', 'new', 'h1'), stored('§2', 'added', 'h2')];
    const before = sectionsBeforeRun(now, [
      { section_key: '§1', change: 'modified', number: '§ 1', heading_path: 'K', old_text: 'old' },
      { section_key: '§2', change: 'added', number: '§ 2', heading_path: 'K', old_text: null },
      { section_key: '§3', change: 'removed', number: null, heading_path: null, old_text: 'gone' },
    ]);
    expect(before).toEqual([
      { section_key: '§1', text_hash: null, text: 'old', number: '§ 1', heading_path: 'K' },
      { section_key: '§3', text_hash: null, text: 'gone', number: null, heading_path: '' },
    ]);
    expect(sectionsBeforeRun(now, [])).toEqual(now);
  });
});
