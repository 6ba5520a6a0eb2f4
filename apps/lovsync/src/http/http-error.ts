import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from '@lovsync/shared/logger';
import type { z } from 'zod';

/** An error with an HTTP status; its message is safe to show to the client. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** Parses input with a zod schema; a mismatch is a 400 naming the offending fields. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const details = result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
  const first = details[0];
  throw new HttpError(
    400,
    `invalid ${what}${first ? `: ${first.path ? `${first.path} ` : ''}${first.message}` : ''}`,
    details,
  );
}

export const notFound: RequestHandler = (req, _res, next) => {
  next(new HttpError(404, `no route for ${req.method} ${req.path}`));
};

/**
 * Every error leaves as JSON `{ error, status }`. Client errors carry their message; anything else
 * is logged with the request and answered with a generic 500 (no stack traces, no SQL, no URLs).
 */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    let status = 500;
    let message = 'internal server error';
    let details: unknown;
    if (err instanceof HttpError) {
      status = err.status;
      message = err.message;
      details = err.details;
    } else if (isClientError(err)) {
      // body-parser: malformed JSON (400), body too large (413), unsupported charset (415)...
      status = err.status;
      message = err.type === 'entity.parse.failed' ? 'request body is not valid JSON' : err.message;
    }
    if (status >= 500)
      log.error({ err: (err as Error)?.message, method: req.method, path: req.path }, 'request failed');
    res.status(status).json({ error: message, status, ...(details !== undefined ? { details } : {}) });
  };
}

function isClientError(
  err: unknown,
): err is { status: number; type?: string; message: string; expose?: boolean } {
  const e = err as { status?: unknown; expose?: unknown } | null;
  return typeof e?.status === 'number' && e.status >= 400 && e.status < 500 && e.expose === true;
}
