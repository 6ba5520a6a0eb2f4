import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { Router } from 'express';
import type { Queues } from '@lovsync/shared/queues';

type BoardOptions = Parameters<typeof createBullBoard>[0];

export const BULL_BOARD_PATH = '/admin/queues';

/**
 * Bull Board for the sync, diff, parse and deliver queues. Mutations (retry, clean, remove, pause...) are
 * off unless DASHBOARD_ALLOW_MUTATIONS=true: a dashboard is for looking, and a stray "clean" would
 * drop jobs whose effects the run-completion accounting is still waiting for.
 */
export function bullBoardRouter(queues: Queues, opts: { allowMutations: boolean }): Router {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(BULL_BOARD_PATH);
  const readOnlyMode = !opts.allowMutations;
  createBullBoard({
    queues: [queues.sync, queues.diff, queues.parse, queues.deliver].map(
      (q) => new BullMQAdapter(q, { readOnlyMode }),
    ),
    // @bull-board/express 9.10.1 is typed against @bull-board/api 9.10.1 while this package depends on
    // api 9.10.2: the classes are the same at run time but TypeScript sees two declarations. Drop the
    // cast once package.json pins both packages to one version.
    serverAdapter: serverAdapter as unknown as BoardOptions['serverAdapter'],
    options: { uiConfig: { boardTitle: 'lovsync' } },
  });
  const board = serverAdapter.getRouter() as Router;
  if (!readOnlyMode) return board;
  // Bull Board's per-queue actions honour readOnlyMode, but "pause all" / "resume all" answer 200
  // (they skip read-only queues silently). Read-only means every request that could change
  // something is refused, whatever Bull Board's version does with it.
  const guarded = Router();
  guarded.use((req, res, next) => {
    if (req.method === 'GET' || req.method === 'HEAD') return next();
    res.status(405).json({
      error: 'Bull Board is read-only (set DASHBOARD_ALLOW_MUTATIONS=true to allow changes)',
      status: 405,
    });
  });
  guarded.use(board);
  return guarded;
}
