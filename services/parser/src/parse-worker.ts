import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { ServiceContext } from '@lovsync/shared/context';
import { PARSE_QUEUE, workerSettings, parseJobSchema, type ParseJobData } from '@lovsync/shared/queues';
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
  const log = ctx.log.child({ service: 'parser', queue: PARSE_QUEUE });
  const worker = new Worker<ParseJobData, ParseOutcome>(
    PARSE_QUEUE,
    async (job: Job<ParseJobData>) => {
      const started = performance.now();
      const parsed = parseJobSchema.safeParse(job.data);
      if (!parsed.success) throw new UnrecoverableError(`invalid parse payload: ${parsed.error.message}`);
      const data = parsed.data;
      try {
        const result = await processParseJob(ctx, data);
        opts.hooks?.onDuration?.((performance.now() - started) / 1000, result.outcome);
        return result;
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        const final =
          err instanceof MalformedDocumentError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
        if (final) {
          log.warn(
            { jobId: job.id, runId: data.runId, path: data.path, err: message },
            'parse failed for good',
          );
          await finishParseJob(ctx, data, message);
          opts.hooks?.onDuration?.((performance.now() - started) / 1000, 'failed');
        }
        if (err instanceof MalformedDocumentError)
          throw new UnrecoverableError(`malformed document: ${message}`);
        throw err;
      }
    },
    {
      connection: ctx.workerConnection,
      prefix: ctx.config.QUEUE_PREFIX,
      concurrency: opts.concurrency ?? ctx.config.PARSER_CONCURRENCY,
      autorun: opts.autorun ?? true,
      ...workerSettings('parse', ctx.config.JOB_LOCK_SECONDS),
    },
  );
  worker.on('error', (err) => log.error({ err: err.message }, 'worker error'));
  worker.on('failed', (job, err) =>
    log.warn({ jobId: job?.id, attempt: job?.attemptsMade, err: err.message }, 'parse job attempt failed'),
  );
  worker.on('stalled', (jobId) => log.warn({ jobId }, 'parse job stalled; it will be retried'));
  return worker;
}
