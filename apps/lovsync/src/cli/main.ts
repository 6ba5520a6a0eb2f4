/**
 * The `lovsync` command. Only commander and the command definitions load at start: every action
 * imports what it needs when it runs, so `lovsync --help` and `lovsync runs` start fast (README
 * "Start-up"; apps/lovsync/bin/lovsync.js runs the compiled bundle of this file when it is current).
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { lovsyncVersion } from './version.ts';
import { registerHistoryCommands } from './history-commands.ts';
import { addSubscriptionCommands } from './subscribe-commands.ts';
import type { Role } from '../compose/roles.ts';
import type { filesListCommand } from './queries-commands.ts';

type FilesListOptions = Parameters<typeof filesListCommand>[0];

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

const queries = () => import('./queries-commands.ts');
const syncCommands = () => import('./sync-commands.ts');
const config = async () => (await import('@lovsync/shared/config')).config();

const program = new Command()
  .name('lovsync')
  .version(lovsyncVersion(), '-V, --version', 'print the version')
  .description("Mirror Lovdata's public datasets into PostgreSQL and record exactly what changed.")
  .showHelpAfterError();

program
  .command('migrate')
  .description('apply database migrations (creates the database when missing)')
  .action(async () => {
    const cfg = await config();
    const { runMigrations } = await import('@lovsync/shared/db');
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
    const cfg = await config();
    const [{ createLogger }, { runCycle }, { ProgressDisplay }] = await Promise.all([
      import('@lovsync/shared/logger'),
      import('../compose/run-cycle.ts'),
      import('./progress/display.ts'),
    ]);
    // Logs and the progress display go to stderr: stdout carries the summary (with --json, only the
    // JSON). On a terminal the display is redrawn in place and log lines are printed above it.
    const display = new ProgressDisplay(process.stderr);
    const log = createLogger({
      level: cfg.LOG_LEVEL,
      stderr: true,
      ...(display.tty ? { destination: display.logStream } : {}),
    });
    const filter =
      o.filter === undefined ? undefined : o.filter === 'null' || o.filter === '' ? null : o.filter;
    const result = await runCycle(cfg, {
      force: o.force,
      filter,
      log,
      onProgress: (p) => display.update(p),
      say: (line) => display.log(line),
    }).finally(() => display.stop());
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
    await serve(await config(), o.role);
  });

program
  .command('sync')
  .description('ask running services for a sync')
  .option('--force', 'download even when lastModified did not move', false)
  .option('--wait', 'wait until the run has finished and print its status', false)
  .action(async (o: { force: boolean; wait: boolean }) => (await syncCommands()).syncCommand(o));

program
  .command('runs')
  .description('recent runs')
  .option('--limit <n>', 'how many', positiveInt, 20)
  .option('--json', 'JSON output', false)
  .action(async (o: { limit: number; json: boolean }) => (await queries()).runsCommand(o));

program
  .command('changes')
  .description('file and section changes of one run')
  .requiredOption('--run <id>', 'run id', runId)
  .option('--json', 'JSON output', false)
  .action(async (o: { run: number; json: boolean }) => (await queries()).changesCommand(o));

const files = program.command('files').description('the file-level mirror (lovlig parity)');
files
  .command('list')
  .addOption(
    new Option('--status <status>').choices(['added', 'modified', 'unchanged', 'removed', 'changed']),
  )
  .option('--dataset <name>', 'only this dataset')
  .option('--limit <n>', 'at most n rows', positiveInt)
  .option('--json', 'JSON output', false)
  .action(async (o: FilesListOptions) => (await queries()).filesListCommand(o));
files
  .command('stats')
  .option('--json', 'JSON output', false)
  .action(async (o: { json: boolean }) => (await queries()).filesStatsCommand(o));
files
  .command('prune')
  .description('drop removed files (and their EXTRACT_DIR copies) and blobs nothing references')
  .option('--dry-run', 'only report', false)
  .action(async (o: { dryRun: boolean }) => (await queries()).filesPruneCommand(o));

program
  .command('import-lovlig <stateJson>')
  .description("adopt lovlig's state.json so the first sync is incremental")
  .action(async (file: string) => (await syncCommands()).importLovligCommand(file));

registerHistoryCommands(program);
program
  .command('reparse')
  .description('re-derive documents from the stored blobs of the current files, through the parse queue')
  .option('--all', 'every current file')
  .option('--dataset <name>', 'the current files of one dataset')
  .option('--document <id>', 'the current file(s) carrying one document')
  .option('--no-wait', 'only enqueue (running parser services do the work)')
  .option('--json', 'print the summary as JSON', false)
  .action(async (o: { all?: boolean; dataset?: string; document?: string; wait: boolean; json: boolean }) => {
    const [{ reparseCommand, reparseSelector }, { createLogger }] = await Promise.all([
      import('./reparse-command.ts'),
      import('@lovsync/shared/logger'),
    ]);
    const selector = reparseSelector(o);
    const cfg = await config();
    const log = createLogger({ level: cfg.LOG_LEVEL, stderr: true });
    const r = await reparseCommand(cfg, selector, { wait: o.wait, log });
    if (o.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    else
      process.stdout.write(
        [
          `run ${r.run.id} (reparse) ${r.run.status}: ${r.files} file(s)`,
          `  parsed:    ${r.run.parseSucceeded}/${r.run.parseTotal} succeeded, ${r.run.parseFailed} failed`,
          `  documents: ${
            Object.entries(r.documents)
              .map(([k, n]) => `${n} ${k}`)
              .join(', ') || 'no change'
          }`,
          '',
        ].join('\n'),
      );
    process.exitCode = r.run.status === 'failed' ? 1 : 0;
  });
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
