import type { Job } from 'bullmq';
import { createContentHasher } from '@lovsync/shared/hash';
import {
  markDatasetDownloading,
  markDatasetManifested,
  markDatasetNotModified,
  markDatasetSyncFailed,
  storableText,
  withTransaction,
} from '@lovsync/shared/db';
import { enqueueDiff } from '@lovsync/shared/queues';
import type { ServiceContext } from '@lovsync/shared/context';
import {
  acquireDecodeSlot,
  ArchiveError,
  chooseBzip2Decoder,
  readArchive,
  type RefusedEntry,
} from './archive-entries.ts';
import { downloadArchive } from './download.ts';
import { MirrorStage, pathInside } from './extract-dir.ts';
import { withRetries, type DatasetListing } from './lovdata-client.ts';
import { ManifestWriter } from './manifest-writer.ts';
import type { ProgressReporter } from './progress.ts';

export type DatasetOutcome = 'manifested' | 'unchanged' | 'failed';

export interface DatasetSyncResult {
  dataset: string;
  outcome: DatasetOutcome;
  files?: number;
  bytesDownloaded?: number;
  error?: string;
  refused?: RefusedEntry[];
  timings?: Record<string, number>;
}

const MAX_REFUSED_RECORDED = 50;

/**
 * Downloads one archive, streams its entries, hashes each file, stores new contents and writes the
 * manifest, all in one transaction: a corrupt, truncated or hostile archive commits nothing for the
 * dataset. Then enqueues the dataset's diff job.
 */
export async function syncDataset(
  ctx: ServiceContext,
  p: { runId: number; listing: DatasetListing; force: boolean; job?: Job; progress?: ProgressReporter },
): Promise<DatasetSyncResult> {
  const { config, database } = ctx;
  const dataset = p.listing.filename;
  const log = ctx.log.child({ runId: p.runId, dataset });
  const t0 = performance.now();
  // Only while the run is still running: a run failed meanwhile (interrupted, or by the reconciler)
  // has released what it held, and must not gain a 'downloading' dataset after that.
  const started = await markDatasetDownloading(database.pool, {
    runId: p.runId,
    dataset,
    lastModified: p.listing.lastModified,
  });
  if (!started) {
    log.warn('run has ended (failed or interrupted); dataset not synced');
    return { dataset, outcome: 'failed', error: `run ${p.runId} has ended before this dataset was synced` };
  }
  const stored = (
    await database.pool.query<{ etag: string | null; last_modified: Date | null; listed: boolean }>(
      'SELECT etag, last_modified, listed FROM datasets WHERE name = $1',
      [dataset],
    )
  ).rows[0];

  let stage: MirrorStage | undefined;
  try {
    const url = `${config.LOVDATA_API_URL}/v1/publicData/get/${encodeURIComponent(dataset)}`;
    const dest = pathInside(config.RAW_DATA_DIR, dataset);
    // A dataset that comes back after it was removed is always read again (never a 304 from the
    // validators of the version whose files were marked removed).
    const conditional = !p.force && stored?.listed !== false;
    const download = await withRetries(
      () =>
        downloadArchive({
          url,
          dest,
          timeoutMs: config.LOVDATA_API_TIMEOUT * 1000,
          etag: conditional ? stored?.etag : null,
          lastModified: conditional ? stored?.last_modified : null,
          expectedSize: p.listing.sizeBytes,
          minBytesPerSecond: config.LOVDATA_MIN_DOWNLOAD_BYTES_PER_SECOND,
          maxBytes: config.MAX_ARCHIVE_BYTES,
          onProgress: (bytes, total) => p.progress?.update(dataset, bytes, total),
        }),
      {
        attempts: 5,
        baseDelayMs: 500,
        maxDelayMs: 30_000,
        onRetry: (err, delayMs) => log.warn({ err: err.message, delayMs }, 'download failed, retrying'),
      },
    );
    const tDownloaded = performance.now();
    if (download.status === 'not-modified') {
      log.info('archive not modified (304)');
      p.progress?.finished(dataset, 'unchanged');
      await markDatasetNotModified(database.pool, { runId: p.runId, dataset });
      return { dataset, outcome: 'unchanged' };
    }
    log.info({ bytes: download.bytes, resumedFrom: download.resumedFrom }, 'archive downloaded');

    const hasher = await createContentHasher();
    stage = config.EXTRACT_DIR ? new MirrorStage(config.EXTRACT_DIR, dataset, p.runId) : undefined;
    const mirror = stage;
    // One archive decoded at a time when the decoder uses every core (lbzip2): taken before the
    // transaction opens, so no transaction waits idle for it.
    const releaseDecodeSlot = await acquireDecodeSlot(
      chooseBzip2Decoder(config.BZIP2_DECODER),
      download.bytes,
    );
    const tSlot = performance.now();
    const result = await withTransaction(database.pool, async (client) => {
      await client.query('DELETE FROM manifest_entries WHERE run_id = $1 AND dataset = $2', [
        p.runId,
        dataset,
      ]);
      const current = new Map<string, string>();
      // Contents whose blob is missing (files adopted by import-lovlig) are stored when read, so
      // that `lovsync reparse` can derive their documents.
      const stored = new Map<string, string>();
      const cur = await client.query<{ path: string; hash: string; stored: boolean }>(
        `SELECT f.path, f.hash, EXISTS (SELECT 1 FROM blobs b WHERE b.hash = f.hash) AS stored
         FROM files f WHERE f.dataset = $1 AND f.status <> 'removed'`,
        [dataset],
      );
      for (const r of cur.rows) {
        current.set(r.path, r.hash);
        if (r.stored) stored.set(r.path, r.hash);
      }
      p.progress?.reading(dataset, current.size || null);
      const writer = new ManifestWriter(client, p.runId, dataset, stored);
      const seen = new Set<string>();
      let currentSeen = 0;
      const read = await readArchive(download.path, {
        decoder: config.BZIP2_DECODER,
        limits: {
          maxEntryBytes: config.MAX_ENTRY_BYTES,
          maxTotalBytes: config.MAX_ARCHIVE_BYTES,
          maxEntries: config.MAX_ARCHIVE_ENTRIES,
        },
        onEntry: async (path, body) => {
          if (seen.has(path)) {
            throw new ArchiveError(
              `archive has two entries for ${storableText(path, 300)} (after normalising ./ and //); refused`,
            );
          }
          seen.add(path);
          if (current.has(path)) currentSeen++;
          hasher.init();
          for (const part of body.parts) hasher.update(part);
          const hash = hasher.digest('hex');
          // --force rewrites every file, so a mirror set up after the first sync becomes complete.
          if (mirror && (p.force || current.get(path) !== hash)) await mirror.add(path, body.bytes());
          // The content is joined only when the writer stores it (a hash it has not stored yet).
          await writer.add({ path, hash, size: body.size }, () => body.bytes());
          p.progress?.entry(dataset, body.size);
        },
      });
      await writer.finish();
      if (read.refused.length > 0) {
        throw Object.assign(
          new ArchiveError(
            `archive refused: ${read.refused.length} unsafe entr${read.refused.length === 1 ? 'y' : 'ies'} ` +
              `(${read.refused
                .slice(0, 3)
                .map((r) => `${storableText(r.path, 200)}: ${storableText(r.reason, 300)}`)
                .join('; ')}${read.refused.length > 3 ? '; ...' : ''})`,
          ),
          { refused: read.refused },
        );
      }
      // An archive that would remove most of the dataset (an empty tar, a bz2 of nothing, a cut
      // listing) is refused like a list that omits most datasets; a forced run accepts it.
      const removing = current.size - currentSeen;
      if (!p.force && current.size > 0 && removing > config.MAX_REMOVAL_SHARE * current.size) {
        throw new ArchiveError(
          `archive refused: it would remove ${removing} of the dataset's ${current.size} current files ` +
            `(${writer.rows} entries read), more than MAX_REMOVAL_SHARE ${config.MAX_REMOVAL_SHARE}; ` +
            `a forced run (lovsync run --force) accepts it`,
        );
      }
      // The run may have been failed meanwhile (e.g. by an operator): then nothing is committed
      // under it. FOR SHARE waits for a concurrent failRun, so the check cannot race it.
      const run = await client.query<{ status: string }>(
        'SELECT status FROM sync_runs WHERE id = $1 FOR SHARE',
        [p.runId],
      );
      if (run.rows[0]?.status !== 'running') {
        throw new ArchiveError(
          `run ${p.runId} is ${run.rows[0]?.status ?? 'gone'}; nothing committed for this dataset`,
        );
      }
      const timings = {
        downloadMs: Math.round(tDownloaded - t0),
        decodeWaitMs: Math.round(tSlot - tDownloaded),
        readMs: Math.round(performance.now() - tSlot),
      };
      await markDatasetManifested(client, {
        runId: p.runId,
        dataset,
        etag: download.etag,
        archiveBytes: download.bytes,
        fileCount: writer.rows,
        bytesDownloaded: download.received,
        timings,
      });
      log.info(
        { files: writer.rows, newBlobs: writer.newBlobs, decoder: read.decoder, ...timings },
        'manifest written',
      );
      return { files: writer.rows, timings, received: download.received };
    }).finally(releaseDecodeSlot);
    if (stage) {
      const mirrored = await stage.commit();
      log.info({ files: mirrored }, 'EXTRACT_DIR updated');
    }
    await enqueueDiff(ctx.queues, { runId: p.runId, dataset, vanished: false });
    p.progress?.finished(dataset, 'done');
    return {
      dataset,
      outcome: 'manifested',
      files: result.files,
      bytesDownloaded: result.received,
      timings: result.timings,
    };
  } catch (err) {
    await stage?.discard().catch(() => undefined);
    const message = storableText(err instanceof Error ? err.message : String(err));
    const refused = ((err as { refused?: RefusedEntry[] }).refused ?? []).map((r) => ({
      path: storableText(r.path, 300),
      reason: storableText(r.reason, 300),
    }));
    p.progress?.finished(dataset, 'failed');
    log.error({ err: message, refused: refused.length }, 'dataset sync failed; nothing committed for it');
    await markDatasetSyncFailed(database.pool, {
      runId: p.runId,
      dataset,
      error: message,
      entriesRefused: refused.length,
      refused: refused.slice(0, MAX_REFUSED_RECORDED),
    });
    return { dataset, outcome: 'failed', error: message, refused };
  }
}
