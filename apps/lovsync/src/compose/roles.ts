import type { Worker } from 'bullmq';
import type { ServiceContext } from '@lovsync/shared/context';
import { createSyncWorker, startPoller, upsertSyncSchedule } from '@lovsync/sync';
import { createDiffWorker, reconcile, startReconciler } from '@lovsync/differ';
import { createParseWorker, type ParseWorkerHooks } from '@lovsync/parser';
import { createDeliverWorker } from '@lovsync/deliver';

export type Role = 'sync' | 'differ' | 'parser' | 'deliver' | 'all';

export interface RoleOptions {
  /** Role sync: upsert the cron schedule and start the lastModified poller (default true). */
  schedule?: boolean;
  /**
   * Role differ: reconcile once at start, then every this many ms (default: the reconciler's
   * own interval); 0 = no reconciler at all.
   */
  reconcileEveryMs?: number;
  /** Role parser: per-job hooks (metrics). */
  parseHooks?: ParseWorkerHooks;
  /** Checked between the steps of start-up: a signal that arrived stops it there. */
  isShuttingDown?: () => boolean;
}

/** What a role started; filled while it starts, so a shutdown during start-up closes what is there. */
export interface RoleParts {
  workers: Worker[];
  stoppers: (() => void)[];
}

/**
 * The role switch: which workers and timers a process of `role` runs. `lovsync serve` and the
 * worker processes of multi-process tests and benches (worker-process.ts) both start through it.
 */
export async function startRole(
  ctx: ServiceContext,
  role: Role,
  parts: RoleParts,
  opts: RoleOptions = {},
): Promise<void> {
  const stopped = () => opts.isShuttingDown?.() ?? false;
  if (role === 'sync' || role === 'all') {
    parts.workers.push(await createSyncWorker(ctx));
    if (opts.schedule ?? true) {
      await upsertSyncSchedule(ctx);
      parts.stoppers.push(startPoller(ctx).stop);
    }
  }
  if (stopped()) return;
  if (role === 'differ' || role === 'all') {
    parts.workers.push(createDiffWorker(ctx));
    if (opts.reconcileEveryMs !== 0) {
      await reconcile(ctx).catch((err: Error) =>
        ctx.log.warn({ err: err.message }, 'initial reconcile failed'),
      );
      parts.stoppers.push(startReconciler(ctx, opts.reconcileEveryMs).stop);
    }
  }
  if (stopped()) return;
  if (role === 'parser' || role === 'all') {
    parts.workers.push(createParseWorker(ctx, { hooks: opts.parseHooks }));
  }
  if (role === 'deliver' || role === 'all') {
    // Webhooks (issue 14): its own role because it talks to arbitrary receivers (egress, slow
    // peers) and scales with subscriptions, not with parsing; included in `all` for one-box setups.
    const deliver = createDeliverWorker(ctx);
    parts.stoppers.push(deliver.stopPolling);
    parts.workers.push(deliver);
  }
}
