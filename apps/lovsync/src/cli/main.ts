import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { config } from '@lovsync/shared/config';
import { runMigrations } from '@lovsync/shared/db';
import { createLogger } from '@lovsync/shared/logger';
import { runCycle } from '../compose/run-cycle.ts';
import {
  changesCommand,
  filesListCommand,
  filesPruneCommand,
  filesStatsCommand,
  runsCommand,
} from './queries-commands.ts';
import { importLovligCommand, syncCommand } from './sync-commands.ts';
import { addSubscriptionCommands } from './subscribe-commands.ts';
import type { Role } from '../compose/roles.ts';

const positiveInt = (v: string) => {
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new InvalidArgumentError('must be a positive whole number');
  return Number(v);
};

/** A sync_runs id: a positive whole number within Postgres' int range. */
const runId = (v: string) => {
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new InvalidArgumentError('must be a positive whole number');
  if (Number(v) > 2_147_483_647) throw new InvalidArgumentError('is out of range (no run has that id)');
  return Number(v);
};

const { version } = JSON.parse(
  readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8'),
) as {
  version: string;
};

const program = new Command()
  .name('lovsync')
  .version(version, '-V, --version', 'print the version')
  .description("Mirror Lovdata's public datasets into PostgreSQL and record exactly what changed.")
  .showHelpAfterError();

program
  .command('migrate')
  .description('apply database migrations (creates the database when missing)')
  .action(async () => {
    const cfg = config();
    const { created } = await runMigrations(cfg.DATABASE_URL);
    process.stdout.write(`migrations applied${created ? ' (database created)' : ''}\n`);
  });

program
  .command('run')
  .description('one whole cycle in this process: sync, diff and parse, then print a summary')
  .option('--force', 'download and diff datasets even when lastModified did not move', false)
  .option('--filter <substring>', 'dataset filter for this run ("null" = all)')
  .option('--json', 'print the summary as JSON', false)
  .action(async (o: { force: boolean; filter?: string; json: boolean }) => {
    const cfg = config();
    // Logs go to stderr: stdout carries the summary (with --json, only the JSON).
    const log = createLogger({ level: cfg.LOG_LEVEL, stderr: true });
    const filter =
      o.filter === undefined ? undefined : o.filter === 'null' || o.filter === '' ? null : o.filter;
    const result = await runCycle(cfg, { force: o.force, filter, log });
    const r = result.run;
    if (o.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else if (r.status === 'failed' && r.datasetsChecked === 0 && result.datasets.length === 0) {
      // Nothing was checked: counts of zero would read like a result.
      process.stdout.write(`run ${r.id} failed: ${r.error ?? 'unknown error'}\n`);
    } else {
      process.stdout.write(
        [
          `run ${r.id} ${r.status} in ${(result.phases.totalMs / 1000).toFixed(1)} s (trigger ${r.trigger}${r.force ? ', forced' : ''})`,
          `  datasets: ${r.datasetsChecked} checked, ${r.datasetsChanged} changed, ${r.datasetsFailed} failed`,
          `  files:    ${r.filesAdded} added, ${r.filesModified} modified, ${r.filesRemoved} removed, ${r.filesUnchanged} unchanged`,
          `  parsed:   ${r.parseSucceeded}/${r.parseTotal} succeeded, ${r.parseFailed} failed`,
          ...result.datasets.map(
            (d) =>
              `  ${d.dataset}: ${d.status}${d.fileCount !== null ? ` (${d.fileCount} files)` : ''}${d.error ? ` — ${d.error}` : ''}`,
          ),
          ...(r.error ? [`  error: ${r.error}`] : []),
          '',
        ].join('\n'),
      );
    }
    process.exitCode = r.status === 'failed' ? 1 : 0;
  });

program
  .command('serve')
  .description('run long-lived services (the dashboard comes with role sync or all)')
  .addOption(
    new Option('--role <role>', 'which service to run')
      .choices(['sync', 'differ', 'parser', 'deliver', 'all'])
      .default('all'),
  )
  .action(async (o: { role: Role }) => {
    // Loaded on demand: the HTTP stack is only needed by long-running services.
    const { serve } = await import('../compose/serve.ts');
    await serve(config(), o.role);
  });

program
  .command('sync')
  .description('ask running services for a sync')
  .option('--force', 'download even when lastModified did not move', false)
  .option('--wait', 'wait until the run has finished and print its status', false)
  .action(syncCommand);

program
  .command('runs')
  .description('recent runs')
  .option('--limit <n>', 'how many', positiveInt, 20)
  .option('--json', 'JSON output', false)
  .action(runsCommand);

program
  .command('changes')
  .description('file and section changes of one run')
  .requiredOption('--run <id>', 'run id', runId)
  .option('--json', 'JSON output', false)
  .action(changesCommand);

const files = program.command('files').description('the file-level mirror (lovlig parity)');
files
  .command('list')
  .addOption(
    new Option('--status <status>').choices(['added', 'modified', 'unchanged', 'removed', 'changed']),
  )
  .option('--dataset <name>', 'only this dataset')
  .option('--limit <n>', 'at most n rows', positiveInt)
  .option('--json', 'JSON output', false)
  .action(filesListCommand);
files.command('stats').option('--json', 'JSON output', false).action(filesStatsCommand);
files
  .command('prune')
  .description('drop removed files (and their EXTRACT_DIR copies) and blobs nothing references')
  .option('--dry-run', 'only report', false)
  .action(filesPruneCommand);

program
  .command('import-lovlig <stateJson>')
  .description("adopt lovlig's state.json so the first sync is incremental")
  .action(importLovligCommand);

addSubscriptionCommands(program);

program.parseAsync(process.argv).catch((err: Error) => {
  // An interrupted run exits like any interrupted command (128 + SIGINT), as soon as stderr is
  // flushed: the cut-off download it leaves behind must not keep the process alive.
  const interrupted = err.name === 'RunInterruptedError';
  process.stderr.write(`lovsync: ${err.message}\n`, () => {
    if (interrupted) process.exit(130);
  });
  process.exitCode = 1;
});
