/** `lovsync show | history | diff` (issue 13): the definitions; the bodies are in history-actions.ts. */
import { Option, type Command } from 'commander';

import type * as HistoryActions from './history-actions.ts';

type Actions = typeof HistoryActions;
type Name = 'showCommand' | 'historyCommand' | 'diffCommand';

/** The named body, loaded when the command runs, wrapped in the HistoryInputError handler. */
const action =
  <N extends Name>(name: N) =>
  async (...args: Parameters<Actions[N]>): Promise<void> => {
    const m = await import('./history-actions.ts');
    const fn = m[name] as (...a: Parameters<Actions[N]>) => Promise<void>;
    await m.action(fn)(...args);
  };

/** Adds show, history and diff to the program. */
export function registerHistoryCommands(program: Command): void {
  program
    .command('show <document> [section]')
    .description('a document (or one section) as of a run or date; default: the latest run')
    .addOption(new Option('--as-of <YYYY-MM-DD>', 'as published by the end of that day (Europe/Oslo)'))
    .addOption(new Option('--run <n>', 'as current at that run'))
    .option('--json', 'JSON output', false)
    .action(action('showCommand'));
  program
    .command('history <document> <section>')
    .description('every version of one section, with the amending act and in-force date when known')
    .option('--json', 'JSON output', false)
    .action(action('historyCommand'));
  program
    .command('diff [document]')
    .description('sections and metadata that differ between two runs or dates (one document or all)')
    .requiredOption('--from <run|date>', 'run id or YYYY-MM-DD')
    .requiredOption('--to <run|date>', 'run id or YYYY-MM-DD')
    .option('--json', 'JSON output', false)
    .action(action('diffCommand'));
}
