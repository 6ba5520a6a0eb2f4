export { createParseWorker, type ParseWorkerHooks } from './parse-worker.ts';
export { processParseJob, type ParseOutcome } from './parse-job.ts';
export { extractDocument, MalformedDocumentError } from './extract/index.ts';
