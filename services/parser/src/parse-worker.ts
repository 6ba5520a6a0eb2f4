import { UnrecoverableError, type Worker } from 'bullmq';
import type { ServiceContext } from '@lovsync/shared/context';
import { parseQueue, type ParseJobData } from '@lovsync/shared/queues';
import { createQueueWorker } from '@lovsync/shared/queues/worker';
import { MalformedDocumentError } from './extract/index.ts';
import { finishParseJob, processParseJob, type ParseOutcome } from './parse-job.ts';

export interface ParseWorkerHooks {
  onDuration?: (seconds: number, outcome: string) => void;
}

/**
 * The parse worker: PARSER_CONCURRENCY jobs at once per process, any number of replicas.
 * Malformed XML is recorded and not retried; database/network errors are retried with exponential
 * backoff and recorded as failed only after the last attempt.
 */
export function createParseWorker(
  ctx: ServiceContext,
  opts: { concurrency?: number; hooks?: ParseWorkerHooks; autorun?: boolean } = {},
): Worker<ParseJobData, ParseOutcome> {
  return createQueueWorker(
    ctx,
    parseQueue,
    async (data, job, { log }) => {
      const started = performance.now();
      try {
        const result = await processParseJob(ctx, data);
        opts.hooks?.onDuration?.((performance.now() - started) / 1000, result.outcome);
        return result;
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        const final =
          err instanceof MalformedDocumentError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
        if (final) {
          log.warn({ runId: data.runId, path: data.path, err: message }, 'parse failed for good');
          await finishParseJob(ctx, data, message);
          opts.hooks?.onDuration?.((performance.now() - started) / 1000, 'failed');
        }
        if (err instanceof MalformedDocumentError)
          throw new UnrecoverableError(`malformed document: ${message}`);
        throw err;
      }
    },
    { concurrency: opts.concurrency, autorun: opts.autorun },
  );
}
