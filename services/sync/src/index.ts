export { requestSync, ForcedSyncRateLimitedError } from '@lovsync/shared/queues';
export { createSyncWorker, startPoller, upsertSyncSchedule } from './sync-worker.ts';
export { runSync, type SyncRunResult } from './sync-run.ts';
export { importLovligState } from './lovlig-import.ts';
export {
  readArchive,
  ArchiveError,
  EntryBody,
  chooseBzip2Decoder,
  unsafePathReason,
} from './archive-entries.ts';
export { fetchDatasetList, parseListBody } from './lovdata-client.ts';
export { datasetDirName, extractPath } from './extract-dir.ts';
export {
  ProgressReporter,
  type DatasetPhase,
  type DatasetProgress,
  type SyncJobProgress,
} from './progress.ts';
