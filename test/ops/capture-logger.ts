import type { Logger } from '@lovsync/shared/logger';

export interface LogLine {
  level: string;
  obj: unknown;
  msg: string | undefined;
}

/** A pino-shaped logger that keeps every line in memory (child loggers share the list). */
export function captureLogger(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger: Record<string, unknown> = { child: () => logger, level: 'trace' };
  for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace']) {
    logger[level] = (obj: unknown, msg?: string) =>
      lines.push(typeof obj === 'string' ? { level, obj: {}, msg: obj } : { level, obj, msg });
  }
  return { log: logger as unknown as Logger, lines };
}
