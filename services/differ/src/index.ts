export { applyDiff } from './hash-diff.ts';
export { createDiffWorker, processDiffJob } from './diff-worker.ts';
export { enqueuePendingParses, pendingParseJobs } from './parse-fanout.ts';
export { reconcile, startReconciler } from './reconciler.ts';
export { describeSelector, ReparseRefusedError, startReparse, type ReparseSelector } from './reparse.ts';
