/**
 * A worker process for multi-process tests and benches:
 * `node --import tsx apps/lovsync/src/compose/worker-process.ts parser|differ|sync|deliver|all [reconcileEveryMs]`,
 * configured by the same environment variables as lovsync itself. Its workers come from the same
 * role switch as `lovsync serve` (roles.ts), without the HTTP server, the cron schedule and the
 * poller; the differ reconciles only when an interval is given. Prints "ready" once its workers run.
 */
import type { Worker } from 'bullmq';
import { parseConfig } from '@lovsync/shared/config';
import { createLogger } from '@lovsync/shared/logger';
import { createRuntime } from '@lovsync/shared/runtime';
import { startRole, type Role } from './roles.ts';

const role = (process.argv[2] ?? 'parser') as Role;
const config = parseConfig();
const rt = createRuntime(config, {
  log: createLogger({ level: config.LOG_LEVEL, pretty: false }),
  service: role,
});
const workers: Worker[] = [];
const stoppers: (() => void)[] = [];
await startRole(
  rt,
  role,
  { workers, stoppers },
  { schedule: false, reconcileEveryMs: Number(process.argv[3] ?? 0) },
);
await Promise.all(workers.map((w) => w.waitUntilReady()));
process.stdout.write('ready\n');
const stop = async () => {
  for (const s of stoppers) s();
  await Promise.all(workers.map((w) => w.close()));
  await rt.close();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
