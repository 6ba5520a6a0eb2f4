import { Transform, type TransformCallback } from 'node:stream';

const BLOCK = 512;
const ZERO_BLOCK = Buffer.alloc(BLOCK);

/**
 * Finds tar's end-of-archive marker (two zero blocks where a header is due), which tar-stream
 * skips over: without this, a second tar appended after the marker is read as more content, while
 * `tar x` stops at the marker. The bytes pass through unchanged; the watch remembers the runs of
 * 512-byte-aligned zero blocks it has seen (merged, and pruned as entries are consumed, so memory
 * stays bounded by how far the stream runs ahead of the tar parser), and `isEndBefore(entry)` tells,
 * for each entry in order, whether the marker came between the previous entry and this one.
 */
export class TarEndMarkerWatch extends Transform {
  private offset = 0;
  /** [start, end) byte ranges of consecutive zero blocks, ascending. */
  private zeroRuns: [number, number][] = [];
  /** Bytes of a block split across chunks. */
  private readonly partial = Buffer.alloc(BLOCK);
  private partialLength = 0;
  /** Where the next header is due: after the previous entry's data (padded to a block). */
  private nextHeaderAt = 0;
  private ended = false;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    let i = 0;
    if (this.partialLength > 0) {
      // Complete the block split across chunks (a copy of at most 511 bytes, never of the chunk).
      const take = Math.min(BLOCK - this.partialLength, chunk.length);
      chunk.copy(this.partial, this.partialLength, 0, take);
      this.partialLength += take;
      i = take;
      if (this.partialLength === BLOCK) {
        if (this.partial.equals(ZERO_BLOCK)) this.markZero(this.offset);
        this.offset += BLOCK;
        this.partialLength = 0;
      }
    }
    for (; i + BLOCK <= chunk.length; i += BLOCK) {
      if (chunk[i] === 0 && chunk.subarray(i, i + BLOCK).equals(ZERO_BLOCK)) this.markZero(this.offset);
      this.offset += BLOCK;
    }
    if (i < chunk.length) {
      chunk.copy(this.partial, 0, i);
      this.partialLength = chunk.length - i;
    }
    cb(null, chunk);
  }

  private markZero(at: number): void {
    const last = this.zeroRuns[this.zeroRuns.length - 1];
    if (last && last[1] === at) last[1] = at + BLOCK;
    else this.zeroRuns.push([at, at + BLOCK]);
  }

  /**
   * Call once per tar entry, in order, with tar-stream's header (`byteOffset` = where its data
   * starts, `size`). True when the end-of-archive marker came before it: the entry and everything
   * after it are not part of the archive.
   */
  isEndBefore(header: { byteOffset?: number; size?: number }): boolean {
    if (this.ended) return true;
    const due = this.nextHeaderAt;
    this.ended = this.zeroRuns.some(([s, e]) => s <= due && e >= due + 2 * BLOCK);
    if (this.ended) return true;
    const dataStart = header.byteOffset ?? due + BLOCK;
    this.nextHeaderAt = dataStart + Math.ceil((header.size ?? 0) / BLOCK) * BLOCK;
    // Runs wholly before the next due header can never matter again.
    while (this.zeroRuns.length && this.zeroRuns[0]![1] <= this.nextHeaderAt) this.zeroRuns.shift();
    return false;
  }
}
