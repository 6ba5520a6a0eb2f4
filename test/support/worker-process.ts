/**
 * A worker process for multi-process tests: `node --import tsx test/support/worker-process.ts parser|differ|sync|deliver|all`,
 * configured by the same environment variables as lovsync itself. Prints "ready" once its workers run.
 */
import type { Worker } from 'bullmq';
import { parseConfig } from '@lovsync/shared/config';
import { createLogger } from '@lovsync/shared/logger';
import { createParseWorker } from '@lovsync/parser';
import { createDiffWorker, startReconciler } from '@lovsync/differ';
import { createSyncWorker } from '@lovsync/sync';
import { createDeliverWorker } from '@lovsync/deliver';
import { createRuntime } from '../../packages/cli/src/runtime.ts';

const role = process.argv[2] ?? 'parser';
const config = parseConfig(process.env);
const rt = createRuntime(config, {
  log: createLogger({ level: config.LOG_LEVEL, pretty: false }),
  service: role,
});
const workers: Worker[] = [];
if (role === 'parser' || role === 'all') workers.push(createParseWorker(rt));
const stoppers: (() => void)[] = [];
if (role === 'differ' || role === 'all') {
  workers.push(createDiffWorker(rt));
  const every = Number(process.argv[3] ?? 0);
  if (every > 0) stoppers.push(startReconciler(rt, every).stop);
}
if (role === 'sync' || role === 'all') workers.push(await createSyncWorker(rt));
if (role === 'deliver' || role === 'all') workers.push(createDeliverWorker(rt));
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
