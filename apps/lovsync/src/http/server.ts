import type { AddressInfo } from 'node:net';
import express from 'express';
import type { ServiceContext } from '@lovsync/shared/context';
import { createQueues } from '@lovsync/shared/queues';
import { createRedis } from '@lovsync/shared/redis';
import { apiRouter } from './api-routes.ts';
import { basicAuth } from './basic-auth.ts';
import { BULL_BOARD_PATH, bullBoardRouter } from './bull-board.ts';
import { errorHandler, notFound } from './http-error.ts';
import { hostGuard } from './host-guard.ts';
import { historyApiRouter, historyPagesRouter } from './history-routes.ts';
import type { Metrics } from './metrics.ts';
import { pagesRouter } from './pages.ts';
import { feedsRouter } from './feeds.ts';
import { subscriptionsApiRouter } from './subscriptions-api.ts';
import { createReadinessCheck } from './readiness.ts';

export interface HttpServer {
  port: number;
  host: string;
  url: string;
  close(): Promise<void>;
}

export interface HttpServerOptions {
  /** Bull Board, the JSON API and the runs pages (role sync or all); health and metrics are always on. */
  dashboard: boolean;
  metrics: Metrics;
  isShuttingDown(): boolean;
  /** Overrides HTTP_PORT; 0 picks a free port. */
  port?: number;
  /** Interface to bind when credentials are configured (default 0.0.0.0); ignored without them. */
  host?: string;
}

/** In-flight requests get this long to finish after close() before their sockets are cut. */
const CLOSE_GRACE_MS = 2_000;

/**
 * The HTTP server of every service.
 *
 *   /healthz   always open: the process is alive (no dependency checks, so a Redis outage does not
 *              get every pod restarted).
 *   /readyz    always open: 503 while shutting down or when Postgres / Redis do not answer in 2 s.
 *   /metrics   Prometheus text. Behind Basic auth like everything else when credentials are set:
 *              queue depths and run volumes are operational data, and Prometheus' scrape config
 *              supports basic_auth, so there is no reason to leave it open.
 *   /, /runs/:id, /api/*, /feeds/*, /admin/queues   only with `dashboard`.
 *
 * Without DASHBOARD_USER/DASHBOARD_PASSWORD the server binds 127.0.0.1 only, whatever `host` says,
 * and answers only requests naming a loopback host; cross-origin state changes are always refused
 * (host-guard.ts).
 */
export async function startHttpServer(ctx: ServiceContext, opts: HttpServerOptions): Promise<HttpServer> {
  const cfg = ctx.config;
  const log = ctx.log.child({ component: 'http' });
  const user = cfg.DASHBOARD_USER;
  const password = cfg.DASHBOARD_PASSWORD;
  const authenticated = user !== undefined && password !== undefined;
  const host = authenticated ? (opts.host ?? '0.0.0.0') : '127.0.0.1';
  if (!authenticated) {
    log.warn(
      { host, requestedHost: opts.host },
      'DASHBOARD_USER/DASHBOARD_PASSWORD are not set: the HTTP server listens on 127.0.0.1 only and is not reachable from other machines; set both to expose it (Basic auth)',
    );
  }

  // Everything behind a request uses its own producer connection (enableOfflineQueue: false):
  // with Redis down a request fails fast instead of waiting forever like a worker connection.
  const redis = createRedis(cfg.REDIS_URL, 'producer');
  redis.on('error', (err) => log.debug({ err: err.message }, 'http redis connection error'));
  const queues = opts.dashboard ? createQueues(redis, cfg.QUEUE_PREFIX) : undefined;
  for (const q of queues ? [queues.sync, queues.diff, queues.parse, queues.deliver] : []) {
    q.on('error', (err) => log.debug({ queue: q.name, err: err.message }, 'http queue error'));
  }
  const readiness = createReadinessCheck({
    pool: ctx.database.pool,
    redis,
    isShuttingDown: opts.isShuttingDown,
  });

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use((req, res, next) => {
    res.set({
      'X-Content-Type-Options': 'nosniff',
      'X-Frame-Options': 'DENY',
      'Referrer-Policy': 'no-referrer',
    });
    const started = performance.now();
    res.on('finish', () =>
      log.debug(
        {
          method: req.method,
          path: req.path,
          status: res.statusCode,
          ms: Math.round(performance.now() - started),
        },
        'http request',
      ),
    );
    next();
  });

  app.get('/healthz', (_req, res) => {
    res.set('Cache-Control', 'no-store').json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const report = await readiness();
    res
      .status(report.ready ? 200 : 503)
      .set('Cache-Control', 'no-store')
      .json({ status: report.ready ? 'ready' : 'not ready', ...report });
  });

  app.use(hostGuard({ authenticated }));
  if (authenticated) app.use(basicAuth(user, password));

  app.get('/metrics', async (_req, res) => {
    const body = await opts.metrics.registry.metrics();
    res.set('Content-Type', opts.metrics.registry.contentType).set('Cache-Control', 'no-store').send(body);
  });

  if (queues) {
    app.use(BULL_BOARD_PATH, bullBoardRouter(queues, { allowMutations: cfg.DASHBOARD_ALLOW_MUTATIONS }));
    app.use('/api', historyApiRouter({ pool: ctx.database.pool }));
    app.use('/api', subscriptionsApiRouter({ pool: ctx.database.pool }));
    app.use(
      '/api',
      apiRouter({
        pool: ctx.database.pool,
        queues,
        log,
        forcedMinIntervalSeconds: cfg.FORCED_SYNC_MIN_INTERVAL_SECONDS,
      }),
    );
    app.use('/feeds', feedsRouter({ pool: ctx.database.pool }));
    app.use(historyPagesRouter({ pool: ctx.database.pool }));
    app.use(pagesRouter({ pool: ctx.database.pool, timeZone: cfg.SYNC_TZ }));
  }
  app.use(notFound);
  app.use(errorHandler(log));

  const server = app.listen({ port: opts.port ?? cfg.HTTP_PORT, host });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
  } catch (err) {
    await queues?.close().catch(() => undefined);
    redis.disconnect();
    throw err;
  }
  server.on('error', (err) => log.error({ err: err.message }, 'http server error'));
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  log.info({ url, dashboard: opts.dashboard, auth: authenticated }, 'http server listening');

  let closing: Promise<void> | undefined;
  return {
    port: address.port,
    host: address.address,
    url,
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const grace = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
        grace.unref();
        await closed;
        clearTimeout(grace);
        await queues?.close().catch(() => undefined);
        await redis.quit().catch(() => redis.disconnect());
      })();
      return closing;
    },
  };
}
