import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * JSON logs by default (one object per line, for log shippers); human-readable when stdout is a TTY.
 * Services derive child loggers: `log.child({ service: 'parser', queue: 'parse', jobId, attempt })`.
 */
export function createLogger(opts: { level: string; name?: string; pretty?: boolean }): Logger {
  const pretty = opts.pretty ?? process.stdout.isTTY === true;
  return pino({
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
            options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' },
          },
        }
      : {}),
  });
}
