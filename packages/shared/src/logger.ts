import pino, { type Logger } from 'pino';
import { createRequire } from 'node:module';
import type PinoPretty from 'pino-pretty';

export type { Logger };

/**
 * JSON logs by default (one object per line, for log shippers); human-readable when stdout is a TTY.
 * Services derive child loggers: `log.child({ service: 'parser', queue: 'parse', jobId, attempt })`.
 */
export function createLogger(opts: {
  level: string;
  name?: string;
  pretty?: boolean;
  /** Log to stderr, keeping stdout for data (the CLI's commands; `serve` logs to stdout). */
  stderr?: boolean;
  /**
   * Write here instead (synchronously, line by line): `lovsync run`'s live progress display prints
   * each log line above itself. Pretty or JSON as the `stderr`/`stdout` choice would be.
   */
  destination?: NodeJS.WritableStream;
}): Logger {
  const out = opts.stderr ? process.stderr : process.stdout;
  const pretty = opts.pretty ?? out.isTTY === true;
  const options = {
    name: opts.name ?? 'lovsync',
    level: opts.level,
    redact: {
      paths: ['password', '*.password', 'databaseUrl', 'redisUrl', 'headers.authorization'],
      censor: '[redacted]',
    },
    ...(pretty
      ? {
          transport: {
            target: 'pino-pretty',
            options: {
              colorize: true,
              translateTime: 'SYS:HH:MM:ss.l',
              ignore: 'pid,hostname',
              destination: opts.stderr ? 2 : 1,
            },
          },
        }
      : {}),
  };
  if (opts.destination) {
    const { transport: _transport, ...inline } = options as typeof options & { transport?: unknown };
    // Loaded only here: pino-pretty costs start-up time every other process need not pay.
    const pinoPretty = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
    return pretty
      ? pino(
          inline,
          pinoPretty({
            colorize: true,
            translateTime: 'SYS:HH:MM:ss.l',
            ignore: 'pid,hostname',
            destination: opts.destination,
            sync: true,
          }),
        )
      : pino(inline, opts.destination);
  }
  return opts.stderr && !pretty ? pino(options, pino.destination(2)) : pino(options);
}
