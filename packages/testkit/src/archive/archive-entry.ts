/** One member of a test archive (tar or zip), described independently of the container format. */
export type ArchiveEntry = {
  /** Written verbatim into the archive, hostile names (`../x.xml`, `/etc/passwd.xml`) included. */
  path: string;
  /** File content; a {@link StreamedContent} for content too large to hold in memory. */
  content?: Buffer | string | StreamedContent;
  /** Default 'file'. */
  type?: ArchiveEntryType;
  /** Target of a symlink or hard link. */
  linkname?: string;
  /** Permission bits; default 0o644 for files, 0o755 for directories, 0o777 for symlinks. */
  mode?: number;
  /** Default {@link DEFAULT_MTIME}, so that archives are reproducible. */
  mtime?: Date;
};

export type ArchiveEntryType = 'file' | 'symlink' | 'link' | 'directory' | 'character-device';

/** Content produced on demand, e.g. a multi-gigabyte file that is never held in memory. */
export type StreamedContent = {
  size: number;
  open: () => AsyncIterable<Uint8Array>;
};

export const DEFAULT_MTIME = new Date('2025-10-28T02:31:00Z');

export function isStreamedContent(content: ArchiveEntry['content']): content is StreamedContent {
  return typeof content === 'object' && !Buffer.isBuffer(content);
}

/** The entry's content as a Buffer, or null when it is streamed. */
export function contentBuffer(entry: ArchiveEntry): Buffer | null {
  const { content } = entry;
  if (content === undefined) return Buffer.alloc(0);
  if (typeof content === 'string') return Buffer.from(content, 'utf8');
  if (Buffer.isBuffer(content)) return content;
  return null;
}

export function contentSize(entry: ArchiveEntry): number {
  if (isStreamedContent(entry.content)) return entry.content.size;
  return contentBuffer(entry)?.length ?? 0;
}

/** Yields the content of a file entry, checking that streamed content has the size it declared. */
export async function* contentChunks(entry: ArchiveEntry): AsyncGenerator<Buffer> {
  const { content } = entry;
  if (!isStreamedContent(content)) {
    const buffer = contentBuffer(entry);
    if (buffer && buffer.length > 0) yield buffer;
    return;
  }
  let produced = 0;
  for await (const chunk of content.open()) {
    produced += chunk.length;
    if (produced > content.size) break;
    yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }
  if (produced !== content.size) {
    throw new Error(`${entry.path}: streamed content has ${produced}+ bytes, declared ${content.size}`);
  }
}

export function defaultMode(type: ArchiveEntryType): number {
  switch (type) {
    case 'directory':
      return 0o755;
    case 'symlink':
      return 0o777;
    case 'character-device':
      return 0o666;
    default:
      return 0o644;
  }
}
